"""Socket pairs, bound datagram sockets, kinds, pipes, FIFOs, readiness and deadlines."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import sys
import time
from pathlib import Path

import pytest

from pytest_unixipc import (
    SOCKET_KINDS,
    SUN_PATH_MAX,
    Deadline,
    NotListening,
    SunPathTooLong,
    bound_dgram_socket,
    fifo,
    pipe_pair,
    socket_type,
    socketpair,
    wait_listening,
    wait_readable,
    wait_writable,
)

TYPES = {
    "stream": socket.SOCK_STREAM,
    "dgram": socket.SOCK_DGRAM,
    "seqpacket": socket.SOCK_SEQPACKET,
}
LINUX = sys.platform.startswith("linux")
UNKNOWN = "unknown socket kind 'raw': expected one of stream, dgram, seqpacket"


def test_kinds() -> None:
    assert SOCKET_KINDS == ("stream", "dgram", "seqpacket")
    assert {kind: socket_type(kind) for kind in SOCKET_KINDS} == TYPES


@pytest.mark.parametrize("bad", ["raw", "STREAM", "", None, 1])
def test_unknown_kind_lists_the_kinds(bad: object) -> None:
    with pytest.raises(ValueError, match="expected one of stream, dgram, seqpacket"):
        socket_type(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_socketpair_kinds_are_connected_and_closed_on_exit(kind: str) -> None:
    with socketpair(kind) as (a, b):
        assert (a.family, a.type, b.type) == (socket.AF_UNIX, TYPES[kind], TYPES[kind])
        assert (a.gettimeout(), b.gettimeout()) == (None, None)
        a.send(b"ab")
        assert b.recv(2) == b"ab"
    assert (a.fileno(), b.fileno()) == (-1, -1)


def test_socketpair_closed_when_the_body_raises() -> None:
    with pytest.raises(KeyError), socketpair() as (a, b):
        raise KeyError("body")
    assert (a.fileno(), b.fileno()) == (-1, -1)


def test_socketpair_nonblocking() -> None:
    with socketpair("seqpacket", nonblocking=True) as (a, b):
        assert (a.getblocking(), b.getblocking()) == (False, False)
        with pytest.raises(BlockingIOError):
            a.recv(1)


def test_socketpair_timeout() -> None:
    with socketpair(timeout=0.02) as (a, _):
        assert a.gettimeout() == 0.02
        with pytest.raises(TimeoutError):
            a.recv(1)


def test_socketpair_bad_arguments_make_nothing() -> None:
    with pytest.raises(ValueError, match=UNKNOWN), socketpair("raw"):
        pytest.fail("the body must not run")
    with (
        pytest.raises(ValueError, match="exclude each other"),
        socketpair(nonblocking=True, timeout=1.0),
    ):
        pytest.fail("the body must not run")


def test_bound_dgram_socket(unix_socket_path: str) -> None:
    with bound_dgram_socket(unix_socket_path, timeout=5.0) as sock:
        assert sock.type == socket.SOCK_DGRAM
        assert sock.getsockname() == unix_socket_path
        assert stat.S_ISSOCK(os.stat(unix_socket_path).st_mode)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
            client.sendto(b"hi", unix_socket_path)
        assert sock.recv(2) == b"hi"
    assert sock.fileno() == -1
    assert not os.path.lexists(unix_socket_path)


def test_bound_dgram_socket_path_in_use_leaves_the_other_file(unix_socket_path: str) -> None:
    Path(unix_socket_path).touch()
    with pytest.raises(OSError, match="in use"), bound_dgram_socket(unix_socket_path):
        pytest.fail("the body must not run")
    assert os.path.exists(unix_socket_path)  # not ours: not unlinked
    os.unlink(unix_socket_path)


def test_bound_dgram_socket_too_long(ipc_tmp_path: Path) -> None:
    path = str(ipc_tmp_path / ("x" * SUN_PATH_MAX))
    limit = f"sun_path holds at most {SUN_PATH_MAX - 1}"
    with pytest.raises(SunPathTooLong, match=limit), bound_dgram_socket(path):
        pytest.fail("the body must not run")


def test_pipe_pair_closes_both_ends() -> None:
    with pipe_pair() as (r, w):
        os.write(w, b"x")
        assert os.read(r, 1) == b"x"
    for fd in (r, w):
        with pytest.raises(OSError):
            os.fstat(fd)


def test_pipe_pair_tolerates_an_end_closed_by_the_body() -> None:
    with pipe_pair() as (r, w):
        os.close(w)
        assert os.read(r, 1) == b""
    with pytest.raises(OSError):
        os.fstat(r)


def test_pipe_pair_leaves_a_reused_descriptor_number_alone() -> None:
    """Regression: an end closed by the body, whose number open() then reused, was closed at
    exit: someone else's file."""
    with pipe_pair() as (r, w):
        os.close(w)
        mine = os.open(os.devnull, os.O_RDONLY)
        assert mine == w  # the lowest free number (open(2))
    os.fstat(mine)  # still open
    os.close(mine)
    with pytest.raises(OSError):
        os.fstat(r)


def test_fifo(ipc_tmp_path: Path) -> None:
    path = ipc_tmp_path / "f"
    with fifo(path) as made:
        assert made == str(path)
        assert stat.S_ISFIFO(os.stat(made).st_mode)
        assert stat.S_IMODE(os.stat(made).st_mode) == 0o600
    assert not path.exists()


def test_fifo_removed_when_the_body_raises(ipc_tmp_path: Path) -> None:
    path = ipc_tmp_path / "f"
    with pytest.raises(RuntimeError), fifo(path):
        raise RuntimeError
    assert not path.exists()


# -- readiness ------------------------------------------------------------------------------------


def test_wait_listening_returns_for_a_listener(unix_socket_path: str) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(unix_socket_path)
        server.listen(4)
        wait_listening(unix_socket_path, timeout=1.0)


def test_wait_listening_no_file(unix_socket_path: str) -> None:
    with pytest.raises(NotListening) as raised:
        wait_listening(unix_socket_path, timeout=0.05)
    assert raised.value.state == "no file"
    assert isinstance(raised.value, TimeoutError)
    assert "no socket file was created" in str(raised.value)
    assert repr(unix_socket_path) in str(raised.value)


def test_wait_listening_refused(unix_socket_path: str) -> None:
    with socket.socket(socket.AF_UNIX) as bound_only:
        bound_only.bind(unix_socket_path)  # bind() without listen(): ECONNREFUSED
        with pytest.raises(NotListening) as raised:
            wait_listening(unix_socket_path, timeout=0.05)
    assert raised.value.state == "refused"
    assert "nothing listens on it (connect: ECONNREFUSED)" in str(raised.value)
    os.unlink(unix_socket_path)


def test_wait_listening_full_accept_queue(unix_socket_path: str) -> None:
    """A listener that takes no more connections (its accept queue is full) is not ready:
    connect() would block, and when time runs out the state is "timed out".  Once it accepts,
    it is ready.  (The BSDs refuse a connection to a full queue instead: "refused".)"""
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(socket.socket(socket.AF_UNIX))
        server.bind(unix_socket_path)
        server.listen(0)
        for _ in range(64):  # Linux queues backlog + 1 connections
            client = stack.enter_context(socket.socket(socket.AF_UNIX))
            client.setblocking(False)
            try:
                client.connect(unix_socket_path)
            except (BlockingIOError, ConnectionRefusedError):
                break
        else:
            pytest.fail("64 connections queued on a listen(0) socket: the queue never filled")
        with pytest.raises(NotListening) as raised:
            wait_listening(unix_socket_path, timeout=0.05)
        full_state = "timed out" if LINUX else "refused"
        assert raised.value.state == full_state
        if LINUX:
            assert "accept queue stayed full" in str(raised.value)
        conn, _ = server.accept()
        conn.close()
        wait_listening(unix_socket_path, timeout=5.0)


def test_wait_listening_wrong_kind(unix_socket_path: str) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(unix_socket_path)
        server.listen(1)
        with pytest.raises(NotListening) as raised:
            wait_listening(unix_socket_path, timeout=0.05, kind="seqpacket")
    assert raised.value.state.startswith("not a seqpacket socket")


def test_wait_listening_path_too_long(ipc_tmp_path: Path) -> None:
    with pytest.raises(SunPathTooLong):
        wait_listening(str(ipc_tmp_path / ("x" * SUN_PATH_MAX)), timeout=0.05)


def test_not_listening_timed_out_message() -> None:
    error = NotListening("/p", 1.5, "timed out")
    assert str(error) == (
        "no server listening at '/p' within 1.5 s: a listener exists but its accept queue "
        "stayed full, so connect() did not complete (EAGAIN)"
    )


# -- deadlines ------------------------------------------------------------------------------------


def test_deadline() -> None:
    deadline = Deadline(60, "the thing")
    assert 59 < deadline.remaining() <= 60
    assert not deadline.expired()
    with pytest.raises(TimeoutError, match=r"^the thing did not happen within 60 s$"):
        deadline.fail()
    expired = Deadline(0, "nothing")
    assert expired.expired()
    assert expired.remaining() == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        Deadline(-1, "never")


def test_wait_readable_and_writable() -> None:
    with socketpair() as (a, b):
        assert wait_writable(a.fileno(), 1.0, "room to write")
        a.send(b"x")
        assert wait_readable(b.fileno(), 1.0, "data")
        b.recv(1)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"^data to read did not happen within 0\.02 s$"):
            wait_readable(b.fileno(), 0.02, "data to read")
        assert time.monotonic() - started >= 0.02


def test_wait_writable_times_out_on_a_full_socket() -> None:
    with socketpair("dgram", nonblocking=True) as (a, _):
        while True:
            try:
                a.send(b"x" * 1024)
            except BlockingIOError:
                break
        with pytest.raises(TimeoutError, match="room in the queue did not happen"):
            wait_writable(a.fileno(), 0.02, "room in the queue")
