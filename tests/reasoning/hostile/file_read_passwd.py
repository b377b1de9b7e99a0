# expect: gate
# reads /etc/passwd with open()
# message: open()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(open("/etc/passwd").read())
