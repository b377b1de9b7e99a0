# expect: gate
# talks HTTP with http.client
# message: import of 'http.client'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import http.client

http.client.HTTPConnection("127.0.0.1", int("{{PORT}}")).request("GET", "/")
