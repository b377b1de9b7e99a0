# expect: memory
# asks for 100 GB of bytes
# message: MemoryError
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
b = bytes(10**11)
