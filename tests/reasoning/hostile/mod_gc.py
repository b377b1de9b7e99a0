# expect: gate
# finds objects through the garbage collector
# message: import of 'gc'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import gc

print(gc.get_objects()[:3])
