# expect: gate
# format_map walks attributes at run time
# message: 'format_map'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
print("{x.__class__}".format_map({"x": 1}))
