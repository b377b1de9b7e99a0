# expect: gate
# waits for interactive input
# message: input()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(input())
