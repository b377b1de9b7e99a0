# expect: gate
# deletes a file with os.remove
# message: import of 'os'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import os

os.remove("{{CANARY}}")
