# expect: gate
# creates files through tempfile
# message: import of 'tempfile'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import tempfile

tempfile.mkstemp(dir="{{WATCH_DIR}}")
