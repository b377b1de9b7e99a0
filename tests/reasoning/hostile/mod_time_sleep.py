# expect: gate
# sleeps to hold the worker
# message: import of 'time'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import time

time.sleep(3600)
