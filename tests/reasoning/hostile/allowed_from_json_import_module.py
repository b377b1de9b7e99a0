# expect: runtime
# imports a submodule through from-import
# message: decoder
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
from json import decoder

print(decoder)
