# expect: gate
# gets the real open from the builtins module
# message: import of 'builtins'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import builtins

builtins.open("{{CANARY}}", "w")
