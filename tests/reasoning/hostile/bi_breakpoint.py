# expect: gate
# starts the debugger
# message: breakpoint()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
breakpoint()
