# expect: gate
# a fork bomb
# message: import of 'os'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import os

while True:
    os.fork()
