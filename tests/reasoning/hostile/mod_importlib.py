# expect: gate
# imports os through importlib
# message: import of 'importlib'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import importlib

importlib.import_module("os").system("id")
