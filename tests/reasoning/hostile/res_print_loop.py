# expect: output
# prints in an endless loop
# message: max_output_bytes
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
while True:
    print("spam" * 100)
