# expect: gate
# starts a thread that outlives the run
# message: import of 'threading'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import threading

threading.Thread(target=lambda: None).start()
