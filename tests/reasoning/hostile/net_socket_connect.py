# expect: gate
# connects to a listening socket on the host
# message: import of 'socket'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
import socket

socket.create_connection(("127.0.0.1", int("{{PORT}}"))).send(b"pwned")
