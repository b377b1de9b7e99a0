# expect: gate
# a private name
# message: '_secret'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
_secret = 1
print(_secret)
