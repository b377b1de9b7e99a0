# expect: gate
# a class method's globals reach sys
# message: '__globals__'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import collections

print(collections.OrderedDict.__init__.__globals__["_sys"])
