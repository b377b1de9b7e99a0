# expect: gate
# imports a submodule of an allowed module
# message: import of 'json.decoder'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import json.decoder

print(json.decoder.scanstring)
