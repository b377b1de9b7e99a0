# expect: gate
# the interactive help (it imports pydoc)
# message: help()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
help()
