# expect: gate
# str.format walks attributes at run time
# message: 'format'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print("{0.__class__.__mro__}".format(1))
