# expect: gate
# calls __import__ directly
# message: __import__()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
__import__("os").system("id")
