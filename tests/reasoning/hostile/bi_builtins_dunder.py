# expect: gate
# indexes __builtins__
# message: '__builtins__'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(__builtins__["open"])
