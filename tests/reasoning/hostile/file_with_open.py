# expect: gate
# a with-statement around open()
# message: with statements
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
with open("{{CANARY}}", "a") as f:
    f.write("pwned")
