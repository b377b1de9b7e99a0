# expect: gate
# overwrites a file outside the sandbox
# message: open()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
open("{{CANARY}}", "w").write("pwned")
