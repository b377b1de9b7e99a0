# expect: gate
# an attribute walk inside an f-string
# message: '__class__'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(f"{().__class__.__base__}")
