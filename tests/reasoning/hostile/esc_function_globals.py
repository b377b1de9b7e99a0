# expect: gate
# a function's globals lead to the builtins
# message: '__globals__'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
def f():
    pass


print(f.__globals__["__builtins__"])
