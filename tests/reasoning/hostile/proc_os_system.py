# expect: gate
# runs a shell command with os.system
# message: import of 'os'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import os

os.system("touch {{WATCH_DIR}}/x")
