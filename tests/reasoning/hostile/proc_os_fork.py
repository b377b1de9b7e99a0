# expect: gate
# forks the worker
# message: import of 'os'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import os

if os.fork() == 0:
    os.system("sleep 100")
