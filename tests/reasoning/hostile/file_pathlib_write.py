# expect: gate
# creates a file through pathlib
# message: import of 'pathlib'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import pathlib

pathlib.Path("{{WATCH_DIR}}/dropped.txt").write_text("pwned")
