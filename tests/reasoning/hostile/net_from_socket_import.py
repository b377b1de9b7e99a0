# expect: gate
# imports a name from socket
# message: import of 'socket'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
from socket import socket

socket().connect(("127.0.0.1", int("{{PORT}}")))
