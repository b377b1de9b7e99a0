# expect: gate
# a generator frame leads to the caller's globals
# message: 'gi_frame'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
g = (x for x in [1])
print(g.gi_frame.f_back.f_globals)
