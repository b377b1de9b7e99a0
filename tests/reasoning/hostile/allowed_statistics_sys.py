# expect: runtime
# statistics imports sys; the sandbox copy has no submodules
# message: 'sys'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import statistics

statistics.sys.modules["os"].system("id")
