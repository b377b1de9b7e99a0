# expect: runtime
# replaces json.dumps to affect later runs
# message: poisoned json
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import json

json.dumps = None
json.loads = None
raise RuntimeError("poisoned json")
