# expect: gate
# getattr with a name built at run time
# message: getattr()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(getattr((), "__cl" + "ass__"))
