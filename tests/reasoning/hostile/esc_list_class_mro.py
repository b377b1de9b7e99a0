# expect: gate
# the class hierarchy of a list
# message: '__class__'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print([].__class__.__mro__)
