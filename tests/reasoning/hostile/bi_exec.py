# expect: gate
# executes a string
# message: exec()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
exec("import os")
