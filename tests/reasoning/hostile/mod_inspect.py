# expect: gate
# walks frames with inspect
# message: import of 'inspect'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import inspect

print(inspect.currentframe().f_back.f_globals)
