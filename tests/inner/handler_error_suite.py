"""Inner suite: a server handler that raises fails its test with the handler's traceback."""

from __future__ import annotations

import socket


def exploding_handler(conn: socket.socket) -> None:
    conn.recv(16)
    raise RuntimeError("boom in the handler 5678")


def test_handler_raises(cleanup_check, stream_server_factory):
    server = stream_server_factory(exploding_handler)
    cleanup_check.path(server.path)
    client = server.connect()
    client.sendall(b"go")
    assert client.recv(16) == b""  # the handler's thread closed the connection


def test_after_the_failing_handler(unix_stream_server):
    client = unix_stream_server.connect()
    client.sendall(b"ok")
    assert client.recv(2) == b"ok"
