# expect: gate
# a closure cell and lambda defaults
# message: '__closure__'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
def outer():
    secret = 1
    return lambda x=print: secret


print(outer().__closure__[0].cell_contents, outer().__defaults__)
