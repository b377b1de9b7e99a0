# expect: gate
# starts worker processes
# message: import of 'multiprocessing'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import multiprocessing

multiprocessing.Process(target=print).start()
