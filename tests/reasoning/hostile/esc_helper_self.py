# expect: gate
# a twin helper's bound instance
# message: '__self__'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(find.__self__)
