# expect: runtime
# deeply nested JSON exhausts the recursion limit
# message: RecursionError
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import json

json.loads("[" * 200000 + "]" * 200000)
