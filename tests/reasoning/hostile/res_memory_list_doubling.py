# expect: memory
# doubles a list until memory runs out
# message: MemoryError
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
x = [0]
while True:
    x = x + x
