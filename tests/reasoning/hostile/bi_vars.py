# expect: gate
# reads the namespace with vars()
# message: vars()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(vars())
