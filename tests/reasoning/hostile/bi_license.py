# expect: runtime
# license() reads files; it is not in the sandbox builtins
# message: name 'license' is not defined
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
license()
