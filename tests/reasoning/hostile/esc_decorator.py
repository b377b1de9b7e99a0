# expect: gate
# a decorator that could run code at definition
# message: decorators
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
@print
def f():
    pass
