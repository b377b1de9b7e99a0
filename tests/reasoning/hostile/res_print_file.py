# expect: runtime
# print(file=...) to reach a real stream
# message: file=
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print("forged", file=twin)
