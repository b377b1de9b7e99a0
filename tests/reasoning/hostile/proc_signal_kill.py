# expect: gate
# signals the parent process
# message: import of 'signal'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import signal

signal.pthread_kill(1, 9)
