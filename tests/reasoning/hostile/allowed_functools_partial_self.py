# expect: gate
# partial objects lead back to bound instances
# message: '__self__'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import functools

print(functools.partial(find).func.__self__)
