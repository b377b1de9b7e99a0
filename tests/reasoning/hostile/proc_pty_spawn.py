# expect: gate
# spawns a shell on a pseudo-terminal
# message: import of 'pty'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import pty

pty.spawn("/bin/sh")
