# expect: memory
# asks for a 10 GB string
# message: MemoryError
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
x = " " * 10**10
