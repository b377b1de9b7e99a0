# expect: gate
# builds a code object with marshal
# message: import of 'marshal'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import marshal

marshal.loads(b"\xe3")
