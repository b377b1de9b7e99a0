# expect: gate
# calls libc through ctypes
# message: import of 'ctypes'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import ctypes

ctypes.CDLL(None).system(b"id")
