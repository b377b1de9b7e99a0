# expect: gate
# fetches a URL with urllib
# message: import of 'urllib.request'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import urllib.request

urllib.request.urlopen("http://127.0.0.1:{{PORT}}/")
