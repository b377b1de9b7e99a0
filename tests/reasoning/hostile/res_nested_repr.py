# expect: runtime
# repr of a million nested lists
# message: RecursionError
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
x = []
for i in range(1000000):
    x = [x]
print(repr(x)[:10])
