# expect: runtime
# json.decoder is a module attribute of json
# message: 'decoder'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import json

print(json.decoder.scanstring)
