# expect: gate
# evaluates a string
# message: eval()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
eval("__import__('os').system('id')")
