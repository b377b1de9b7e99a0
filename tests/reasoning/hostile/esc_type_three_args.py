# expect: gate
# creates a class with type()
# message: type()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
Evil = type("Evil", (), {"x": 1})
print(Evil)
