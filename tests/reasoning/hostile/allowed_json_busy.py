# expect: cpu
# json in an endless loop
# message: CPU
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import json

s = json.dumps(list(range(10000)))
while True:
    json.loads(s)
