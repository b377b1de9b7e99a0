# expect: cpu
# an endless loop that swallows every exception
# message: CPU
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
while True:
    try:
        x = 1 / 0
    except:
        pass
