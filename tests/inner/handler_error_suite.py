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
    # The handler's thread records its exception before it closes the connection.
    assert client.recv(16) == b""


def test_handler_raises_and_the_test_fails_too(stream_server_factory):
    server = stream_server_factory(exploding_handler)
    client = server.connect()
    client.sendall(b"go")
    assert client.recv(16) == b"an answer"


def handler_failing_at_shutdown(conn: socket.socket) -> None:
    conn.sendall(b"serving")
    conn.recv(16)  # returns b"" only when the server shuts the connection down at teardown
    raise RuntimeError("boom after the test 9012")


def test_handler_raises_after_the_test(stream_server_factory):
    server = stream_server_factory(handler_failing_at_shutdown)
    client = server.connect()
    assert client.recv(7) == b"serving"  # the handler runs: teardown cannot miss it


def test_after_the_failing_handler(unix_stream_server):
    client = unix_stream_server.connect()
    client.sendall(b"ok")
    assert client.recv(2) == b"ok"
