# expect: gate
# writes to stdout around the captured print
# message: import of 'sys'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import sys

sys.stdout.write('{"ok": true}')
