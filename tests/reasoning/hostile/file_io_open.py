# expect: gate
# opens a file through io.open
# message: import of 'io'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import io

io.open("{{CANARY}}", "w").write("pwned")
