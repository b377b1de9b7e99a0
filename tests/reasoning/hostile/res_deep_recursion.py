# expect: runtime
# unbounded recursion
# message: RecursionError
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
def f(n):
    return f(n + 1)


f(0)
