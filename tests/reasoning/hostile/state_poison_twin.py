# expect: runtime
# mutates the twin to affect later runs
# message: poisoned the twin
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
try:
    twin.clear()
except Exception:
    pass
raise RuntimeError("poisoned the twin")
