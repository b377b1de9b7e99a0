# expect: gate
# open spelled in full-width letters (NFKC-normalized to open)
# message: open()
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print(ｏｐｅｎ("/etc/passwd").read())
