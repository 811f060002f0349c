"""The threaded listening server (pytest_unixipc.server) used directly as a context manager."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from pytest_unixipc import SUN_PATH_MAX, HandlerError, SunPathTooLong, echo_handler, stream_server
from pytest_unixipc.server import StreamServer


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"EOF after {len(data)} of {size} bytes"
        data += chunk
    return data


def test_echo_server_serves_and_cleans_up(ipc_tmp_path: Path) -> None:
    threads_before = threading.active_count()
    with stream_server(ipc_tmp_path) as server:
        assert server.handler is echo_handler
        assert os.path.dirname(server.path) == str(ipc_tmp_path)
        assert server.served == 0  # no readiness probe counted as a client
        clients = [server.connect() for _ in range(4)]
        for number, client in enumerate(clients):
            client.sendall(b"%d" % number * 1000)
            assert recv_exactly(client, 1000) == b"%d" % number * 1000
        assert server.served == 4
    assert not os.path.lexists(server.path)
    assert all(client.fileno() == -1 for client in clients)
    assert server.listener.fileno() == -1
    assert threading.active_count() == threads_before


def test_clients_closing_before_reading_their_echo_are_no_handler_error(
    ipc_tmp_path: Path,
) -> None:
    """Regression: the echo handler treated EPIPE/ECONNRESET from a client that closed first
    as a handler failure, failing the owning test at random."""
    with stream_server(ipc_tmp_path) as server:
        for _ in range(50):
            client = server.connect()
            client.sendall(b"unread " * 5000)
            client.close()


def test_seqpacket_server_keeps_boundaries(ipc_tmp_path: Path) -> None:
    with stream_server(ipc_tmp_path, kind="seqpacket") as server:
        client = server.connect()
        assert client.type == socket.SOCK_SEQPACKET
        client.send(b"one")
        client.send(b"two")
        assert (client.recv(16), client.recv(16)) == (b"one", b"two")


def test_custom_handler(ipc_tmp_path: Path) -> None:
    def shout(conn: socket.socket) -> None:
        conn.sendall(conn.recv(16).upper())

    with stream_server(ipc_tmp_path, shout) as server:
        client = server.connect()
        client.sendall(b"quiet")
        assert recv_exactly(client, 5) == b"QUIET"
        assert client.recv(1) == b""  # the handler returned: connection closed


def test_handler_exception_is_raised_at_exit_with_its_traceback(ipc_tmp_path: Path) -> None:
    def broken(conn: socket.socket) -> None:
        conn.recv(1)
        raise LookupError("handler bug 9")

    with pytest.raises(HandlerError) as raised:  # noqa: PT012, SIM117 - raised at exit
        with stream_server(ipc_tmp_path, broken) as server:
            client = server.connect()
            client.sendall(b"x")
            assert client.recv(1) == b""
    message = str(raised.value)
    assert message.startswith("the server's connection handler failed (1 time(s)); first:")
    assert "in broken" in message
    assert "LookupError: handler bug 9" in message
    assert not os.path.lexists(server.path)


def test_check_false_keeps_handler_errors_for_the_caller(ipc_tmp_path: Path) -> None:
    def broken(conn: socket.socket) -> None:
        raise RuntimeError("later")

    with stream_server(ipc_tmp_path, broken, check=False) as server:
        server.connect().recv(1)
    with pytest.raises(HandlerError, match="RuntimeError: later"):
        server.check()


def test_accept_false_listens_without_accepting(ipc_tmp_path: Path) -> None:
    with stream_server(ipc_tmp_path, accept=False, backlog=0) as server:
        first = server.connect(nonblocking=True)  # queued by the kernel, never accepted
        assert first.getblocking() is False
        assert server.served == 0
        first.send(b"queued")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BSDs refuse at once")
def test_connect_waits_for_room_in_a_full_listen_queue_then_times_out(ipc_tmp_path: Path) -> None:
    """Regression: connect() with a timeout failed at once with BlockingIOError (EAGAIN) when
    the listen queue was full, instead of waiting up to its timeout."""
    with stream_server(ipc_tmp_path, accept=False, backlog=0) as server:
        server.connect()  # Linux queues backlog + 1 connections
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"did not complete within 0\.1 s: its listen queue"):
            server.connect(timeout=0.1)
        assert time.monotonic() - started >= 0.09


def test_connect_with_a_timeout(unix_stream_server: StreamServer) -> None:
    client = unix_stream_server.connect(timeout=0.02)
    assert client.gettimeout() == 0.02
    with pytest.raises(TimeoutError):
        client.recv(1)  # the echo server has nothing to send


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("dgram", "needs a connection-oriented kind"),
        ("raw", "unknown socket kind 'raw': expected one of stream, dgram, seqpacket"),
    ],
)
def test_bad_kind(ipc_tmp_path: Path, kind: str, message: str) -> None:
    with pytest.raises(ValueError, match=message), stream_server(ipc_tmp_path, kind=kind):
        pytest.fail("the body must not run")
    assert list(ipc_tmp_path.iterdir()) == []


def test_path_too_long_and_path_in_use(ipc_tmp_path: Path) -> None:
    with pytest.raises(SunPathTooLong):
        StreamServer(str(ipc_tmp_path / ("x" * SUN_PATH_MAX)))
    taken = ipc_tmp_path / "taken"
    taken.touch()
    with pytest.raises(OSError, match="in use"):
        StreamServer(str(taken))
    taken.unlink()
