# expect: gate
# a relative import
# message: relative imports
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
from . import twin_api

print(twin_api)
