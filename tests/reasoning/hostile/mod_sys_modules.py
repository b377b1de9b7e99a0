# expect: gate
# reaches os through sys.modules
# message: import of 'sys'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import sys

sys.modules["os"].system("id")
