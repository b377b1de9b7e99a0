# expect: output
# prints ten million characters
# message: max_output_bytes
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print("x" * 10**7)
