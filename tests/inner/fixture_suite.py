"""Inner suite: each public fixture's behaviour, then cleanup after pass, fail and hang.

Every test that takes ``ending`` runs three times: ending by passing, by failing, and by
hanging until pytest-timeout ends it.  ``cleanup_check`` (requested first, so torn down last)
then verifies that the fixtures closed, removed and reaped everything they made.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import stat
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_unixipc import (
    SUN_PATH_MAX,
    PeerDied,
    PeerError,
    PeerTimeout,
    SunPathTooLong,
    check_sun_path,
)
from pytest_unixipc import forked_peer as peer_context

NAME_ROOM = 24  # the room ipc_tmp_path promises for a file name
TYPES = {
    "stream": socket.SOCK_STREAM,
    "dgram": socket.SOCK_DGRAM,
    "seqpacket": socket.SOCK_SEQPACKET,
}
KINDS_LISTED = "unknown socket kind 'raw': expected one of stream, dgram, seqpacket"


def recv_until_eof(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"EOF after {len(data)} of {size} bytes"
        data += chunk
    return data


# -- directories and paths ------------------------------------------------------------------------


def test_ipc_tmp_path(cleanup_check, ipc_tmp_path, remember, ending):
    st_ = os.stat(ipc_tmp_path)
    assert stat.S_ISDIR(st_.st_mode)
    assert stat.S_IMODE(st_.st_mode) == 0o700
    assert st_.st_uid == os.geteuid()
    assert list(ipc_tmp_path.iterdir()) == []
    longest = ipc_tmp_path / ("n" * NAME_ROOM)
    assert len(os.fsencode(longest)) < SUN_PATH_MAX
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(longest))
    (ipc_tmp_path / "sub").mkdir()
    (ipc_tmp_path / "sub" / "file").write_text("removed with its directory")
    cleanup_check.path(ipc_tmp_path)
    remember("ipc_tmp_path", str(ipc_tmp_path), worker=os.environ.get("PYTEST_XDIST_WORKER", ""))
    ending()


def test_unix_socket_path(cleanup_check, unix_socket_path, ipc_tmp_path, ending):
    assert isinstance(unix_socket_path, str)
    assert os.path.dirname(unix_socket_path) == str(ipc_tmp_path)
    assert not os.path.lexists(unix_socket_path)
    check_sun_path(unix_socket_path)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(unix_socket_path)
        sock.listen()
        assert stat.S_ISSOCK(os.stat(unix_socket_path).st_mode)
    cleanup_check.path(unix_socket_path)
    ending()


def test_unix_socket_path_is_fresh_beside_unix_dgram_socket(unix_socket_path, unix_dgram_socket):
    assert not os.path.lexists(unix_socket_path)
    assert unix_dgram_socket.getsockname() != unix_socket_path


# -- sockets --------------------------------------------------------------------------------------


def test_socketpair_factory(cleanup_check, socketpair_factory, ending):
    for kind, sock_type in TYPES.items():
        a, b = socketpair_factory(kind)
        cleanup_check.socket(a, b)
        assert (a.family, a.type, b.type) == (socket.AF_UNIX, sock_type, sock_type)
        a.sendall(b"ping")
        assert b.recv(16) == b"ping"
    a, b = socketpair_factory(nonblocking=True)
    cleanup_check.socket(a, b)
    assert (a.getblocking(), b.getblocking()) == (False, False)
    with pytest.raises(BlockingIOError):
        b.recv(1)
    a, b = socketpair_factory("dgram", timeout=0.05)
    cleanup_check.socket(a, b)
    assert b.gettimeout() == 0.05
    with pytest.raises(TimeoutError):
        b.recv(1)
    with pytest.raises(ValueError, match=KINDS_LISTED):
        socketpair_factory("raw")
    with pytest.raises(ValueError, match="exclude each other"):
        socketpair_factory(nonblocking=True, timeout=1.0)
    ending()


def test_unix_socketpair(cleanup_check, unix_socketpair, ending):
    a, b = unix_socketpair
    cleanup_check.socket(a, b)
    assert (a.type, b.type) == (socket.SOCK_STREAM, socket.SOCK_STREAM)
    a.sendall(b"one")
    a.sendall(b"two")
    assert recv_exactly(b, 6) == b"onetwo"
    ending()


@pytest.mark.parametrize("unix_socketpair", ["dgram", "seqpacket"], indirect=True)
def test_unix_socketpair_indirect(cleanup_check, unix_socketpair, request, ending):
    a, b = unix_socketpair
    cleanup_check.socket(a, b)
    kind = request.node.callspec.params["unix_socketpair"]
    assert (a.type, b.type) == (TYPES[kind], TYPES[kind])
    a.send(b"one")
    a.send(b"two")
    assert (b.recv(16), b.recv(16)) == (b"one", b"two")  # boundaries kept
    ending()


def test_unix_dgram_socket(cleanup_check, unix_dgram_socket, ipc_tmp_path, ending):
    sock = unix_dgram_socket
    cleanup_check.socket(sock)
    path = sock.getsockname()
    cleanup_check.path(path)
    assert sock.type == socket.SOCK_DGRAM
    assert os.path.dirname(path) == str(ipc_tmp_path)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
        client.sendto(b"datagram", path)
    assert sock.recv(64) == b"datagram"
    ending()


# -- servers --------------------------------------------------------------------------------------


def greeter(conn: socket.socket) -> None:
    conn.sendall(b"hello " + conn.recv(64))


def test_stream_server_factory(cleanup_check, stream_server_factory, ipc_tmp_path, ending):
    echo = stream_server_factory()
    greet = stream_server_factory(greeter)
    packets = stream_server_factory(kind="seqpacket")
    quiet = stream_server_factory(accept=False, backlog=1)
    servers = (echo, greet, packets, quiet)
    assert len({s.path for s in servers}) == 4
    for server in servers:
        cleanup_check.path(server.path)
        assert os.path.dirname(server.path) == str(ipc_tmp_path)
        assert stat.S_ISSOCK(os.stat(server.path).st_mode)
    client = greet.connect()
    client.sendall(b"you")
    assert recv_until_eof(client) == b"hello you"
    assert greet.served == 1
    packet = packets.connect()
    assert packet.type == socket.SOCK_SEQPACKET
    packet.send(b"a")
    packet.send(b"bc")
    assert (packet.recv(16), packet.recv(16)) == (b"a", b"bc")
    queued = quiet.connect(nonblocking=True)  # sits in the listen queue, never accepted
    assert quiet.served == 0
    cleanup_check.socket(client, packet, queued)
    with pytest.raises(ValueError, match="connection-oriented"):
        stream_server_factory(kind="dgram")
    with pytest.raises(ValueError, match=KINDS_LISTED):
        stream_server_factory(kind="raw")
    ending()


def test_unix_stream_server(cleanup_check, unix_stream_server, ending):
    server = unix_stream_server
    cleanup_check.path(server.path)
    assert server.served == 0
    clients = [server.connect() for _ in range(3)]
    cleanup_check.socket(*clients)
    for number, client in enumerate(clients):
        message = b"echo %d" % number
        client.sendall(message)
        assert recv_exactly(client, len(message)) == message
    assert server.served == 3
    nonblocking = server.connect(nonblocking=True)
    cleanup_check.socket(nonblocking)
    assert nonblocking.getblocking() is False
    nonblocking.sendall(b"x")
    assert select.select([nonblocking], [], [], 5.0)[0], "no echo within 5 s"
    assert nonblocking.recv(1) == b"x"
    ending()


# -- forked peers ---------------------------------------------------------------------------------


def report(sock: socket.socket, token: str) -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "token": token,
        "sigpipe": signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL,
        "sock": sock.type,
    }


def block_forever(sock: socket.socket) -> None:
    r, _w = os.pipe()
    select.select([r], [], [])  # nothing writes: only a signal ends this process


def fail(sock: socket.socket) -> None:
    raise RuntimeError("child failure 1234")


def die_of_sigpipe(sock: socket.socket) -> None:
    sock.recv(1)  # EOF once the parent has closed its end
    sock.sendall(b"x")  # EPIPE, and SIGPIPE's default action ends the child


def test_forked_peer(cleanup_check, forked_peer, remember, ending, request):
    # Explicit deadlines: under a short pytest-timeout (the hang runs) the default deadline
    # would be a fraction of it, and a slow machine must not turn that into a failure here.
    peer = forked_peer(report, "token", deadline=30)
    info = peer.join(timeout=10)
    assert info == {
        "pid": peer.pid,
        "pgid": peer.pid,
        "token": "token",
        "sigpipe": True,
        "sock": socket.SOCK_STREAM,
    }
    assert peer.pid != os.getpid()
    failing = forked_peer(fail, deadline=30)
    with pytest.raises(PeerError, match="RuntimeError") as raised:
        failing.join(timeout=10)
    assert "child failure 1234" in str(raised.value)
    assert "in fail" in str(raised.value)  # the child's traceback
    assert isinstance(raised.value.exception, RuntimeError)
    piped = forked_peer(die_of_sigpipe, deadline=30)  # stream: no SIGPIPE on seqpacket
    piped.sock.close()
    with pytest.raises(PeerDied, match=f"peer pid {piped.pid} killed by SIGPIPE"):
        piped.join(timeout=10)
    hanger = forked_peer(block_forever, deadline=120)
    cleanup_check.pid(peer.pid, failing.pid, piped.pid, hanger.pid)
    cleanup_check.socket(hanger.sock)
    remember("hanger", hanger.pid)
    if request.node.callspec.params["ending"] == "hang":
        # Hang in join() on the hanging peer itself: only pytest-timeout ends this.
        remember("hanging", os.getpid())
        hanger.join(timeout=3600)
    ending()


@pytest.mark.timeout(2)
def test_forked_peer_deadline_below_pytest_timeout(forked_peer):
    peer = forked_peer(block_forever)
    with pytest.raises(PeerDied, match=r"SIGALRM \(its own deadline of 1.6 s expired\)"):
        peer.join(timeout=30)


def unpicklable(sock: socket.socket) -> Callable[[], int]:
    return lambda: 1


def test_bad_input(forked_peer, ipc_tmp_path):
    with pytest.raises(ValueError, match=KINDS_LISTED):
        forked_peer(report, "x", kind="raw")
    with pytest.raises(TypeError, match="callable"):
        forked_peer("not callable")
    too_long = ipc_tmp_path / ("x" * 120)
    length = len(os.fsencode(too_long))
    with pytest.raises(SunPathTooLong, match=f"is {length} bytes but sun_path holds at most"):
        check_sun_path(too_long)
    returns_lambda = forked_peer(unpicklable)
    with pytest.raises(PeerError, match="return value of type function cannot be pickled"):
        returns_lambda.join(timeout=10)
    never = forked_peer(block_forever, deadline=120)
    with pytest.raises(PeerTimeout, match=r"did not finish within 0.2 s; killed its process"):
        never.join(timeout=0.2)
    with pytest.raises(ChildProcessError):
        os.waitpid(never.pid, os.WNOHANG)  # already reaped: nothing left running


@settings(max_examples=15, deadline=None)
@given(payload=st.binary(min_size=1, max_size=512))
def test_forked_peer_context_manager_under_hypothesis(payload):
    with peer_context(lambda sock: sock.recv(1024), kind="seqpacket") as peer:
        peer.sock.send(payload)
        assert peer.join(timeout=10) == payload


# -- descriptors, pipes, FIFOs --------------------------------------------------------------------


def test_fd_channel(cleanup_check, fd_channel, ending):
    cleanup_check.socket(fd_channel.sender, fd_channel.receiver)
    r, w = os.pipe()
    try:
        assert fd_channel.send_fds([w], b"w") == 1
        data, fds, flags = fd_channel.recv_fds(1)
        assert (data, len(fds), flags) == (b"w", 1, 0)
        (got,) = fds
        assert got != w
        assert os.fstat(got).st_ino == os.fstat(w).st_ino
        cleanup_check.fd(got)
        os.write(got, b"through")
        assert os.read(r, 16) == b"through"
    finally:
        os.close(r)
        os.close(w)
    ending()


@pytest.mark.parametrize("fd_channel", ["dgram", "seqpacket"], indirect=True)
def test_fd_channel_kinds(cleanup_check, fd_channel, request):
    kind = request.node.callspec.params["fd_channel"]
    cleanup_check.socket(fd_channel.sender, fd_channel.receiver)
    assert fd_channel.sender.type == fd_channel.receiver.type == TYPES[kind]
    r, w = os.pipe()
    try:
        fd_channel.send_fds([r, w], b"two")
        data, fds, _ = fd_channel.recv_fds(2)
        assert (data, len(fds)) == (b"two", 2)
        cleanup_check.fd(*fds)
    finally:
        os.close(r)
        os.close(w)


def test_pipe_pair(cleanup_check, pipe_pair, ending):
    r, w = pipe_pair
    cleanup_check.fd(r, w)
    assert os.get_blocking(r)
    os.write(w, b"abc")
    assert os.read(r, 3) == b"abc"
    ending()


def test_fifo_path(cleanup_check, fifo_path, ipc_tmp_path, ending):
    cleanup_check.path(fifo_path)
    assert stat.S_ISFIFO(os.stat(fifo_path).st_mode)
    assert os.path.dirname(fifo_path) == str(ipc_tmp_path)
    r = os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        w = os.open(fifo_path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(w, b"fifo")
            assert os.read(r, 4) == b"fifo"
        finally:
            os.close(w)
    finally:
        os.close(r)
    ending()
