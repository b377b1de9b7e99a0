# expect: gate
# reads environment variables
# message: import of 'os'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import os

print(dict(os.environ))
