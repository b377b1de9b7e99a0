# expect: cpu
# catastrophic regex backtracking holds the CPU
# message: CPU
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import re

print(re.match("(a+)+$", "a" * 64 + "b"))
