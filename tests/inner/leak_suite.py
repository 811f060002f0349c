"""Inner suite: tests that leak a descriptor, a socket, a zombie child or a file, and one that
uses every fixture and leaks nothing."""

from __future__ import annotations

import os
import socket
import warnings

import pytest

_KEEP: list[socket.socket] = []


def test_leaks_pipe(remember):
    r, w = os.pipe()
    remember("fds", [r, w])


def test_leaks_socketpair():
    _KEEP.extend(socket.socketpair())


def test_leaks_zombie(remember):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # it has exited; deliberately not reaped
    remember("zombie", pid)


def test_leaks_file(ipc_tmp_path, remember):
    (ipc_tmp_path / "left-behind.txt").write_text("forgotten")
    remember("path", str(ipc_tmp_path))


def serve_one(sock: socket.socket) -> bytes:
    return sock.recv(16)


def test_uses_every_fixture_and_leaks_nothing(
    ipc_tmp_path,
    unix_socket_path,
    unix_socketpair,
    socketpair_factory,
    unix_dgram_socket,
    unix_stream_server,
    forked_peer,
    fd_channel,
    pipe_pair,
    fifo_path,
):
    a, b = unix_socketpair
    a.sendall(b"x")
    assert b.recv(1) == b"x"
    socketpair_factory("seqpacket")
    client = unix_stream_server.connect()
    client.sendall(b"e")
    assert client.recv(1) == b"e"
    joined = forked_peer(serve_one)
    joined.sock.sendall(b"peer")
    assert joined.join(timeout=10) == b"peer"
    forked_peer(serve_one)  # still running at teardown: killed and reaped there
    r, _w = pipe_pair
    fd_channel.send_fds([r])
    fd_channel.recv_fds(1)
    assert os.path.exists(fifo_path)
    assert os.path.dirname(unix_dgram_socket.getsockname()) == str(ipc_tmp_path)


@pytest.mark.unixipc_leak_check
def test_marked_leaks_pipe():
    os.pipe()
