# expect: cpu
# an endless busy loop
# message: CPU
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
while True:
    pass
