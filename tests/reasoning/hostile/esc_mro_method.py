# expect: gate
# the mro() method
# message: 'mro'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(int.mro())
