# expect: output
# keeps printing after the output limit, swallowing errors
# message: max_output_bytes
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
while True:
    try:
        print("x" * 1000)
    except:
        pass
