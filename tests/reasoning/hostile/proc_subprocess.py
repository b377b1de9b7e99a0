# expect: gate
# runs a shell command with subprocess
# message: import of 'subprocess'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import subprocess

subprocess.run(["touch", "{{WATCH_DIR}}/x"])
