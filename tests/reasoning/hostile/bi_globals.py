# expect: gate
# reads the globals dict
# message: globals()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(globals()["__builtins__"])
