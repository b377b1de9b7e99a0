# expect: gate
# a star import that could shadow the guards
# message: star imports
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
from json import *

print(dumps(1))
