# expect: gate
# compiles a string
# message: compile()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(compile("1", "x", "eval"))
