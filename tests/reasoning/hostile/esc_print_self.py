# expect: gate
# the module behind a builtin
# message: '__self__'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(print.__self__)
