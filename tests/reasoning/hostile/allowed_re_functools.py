# expect: runtime
# re imports functools and enum as attributes
# message: 'enum'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import re

print(re.enum)
