# expect: gate
# the classic object subclass walk
# message: '__subclasses__'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
for c in ().__class__.__base__.__subclasses__():
    if c.__name__ == "_wrap_close":
        c.__init__.__globals__["system"]("id")
