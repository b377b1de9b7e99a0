# expect: gate
# deletes a directory tree with shutil
# message: import of 'shutil'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import shutil

shutil.rmtree("{{WATCH_DIR}}")
