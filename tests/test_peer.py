"""The forked peer (pytest_unixipc.peer) used directly as a context manager.

These fork from the pytest process itself, which is what the context manager is for (hypothesis
tests, scripts); the fixture, pytest-timeout and xdist are covered by test_fixtures_pytester.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import faulthandler
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest_unixipc.peer as peer_module
from pytest_unixipc import (
    ForkedPeer,
    PeerDied,
    PeerError,
    PeerTimeout,
    forked_peer,
    wait_readable,
)
from pytest_unixipc.leaks import Snapshot, list_children
from pytest_unixipc.peer import reap_group

LINUX = sys.platform.startswith("linux")


def exited(pidfd: int, timeout: float) -> bool:
    """Has the process behind ``pidfd`` exited (within ``timeout`` s)?"""
    return bool(select.select([pidfd], [], [], timeout)[0])


def block_forever(sock: socket.socket) -> None:
    r, _w = os.pipe()
    select.select([r], [], [])  # only a signal ends this


def assert_reaped(pid: int) -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert pid not in list_children()


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        os.close(fd)


# -- results --------------------------------------------------------------------------------------


def test_return_value_and_arguments() -> None:
    def target(sock: socket.socket, a: int, b: str) -> tuple[int, str, bytes]:
        return a * 2, b.upper(), sock.recv(5)

    with forked_peer(target, 21, "x") as peer:
        peer.sock.sendall(b"hello")
        assert peer.join(timeout=10) == (42, "X", b"hello")
        assert peer.join() == (42, "X", b"hello")  # the outcome is kept
        assert peer.exited
    assert_reaped(peer.pid)
    assert peer.sock.fileno() == -1


@pytest.mark.parametrize(
    ("kind", "sock_type"),
    [
        ("stream", socket.SOCK_STREAM),
        ("dgram", socket.SOCK_DGRAM),
        ("seqpacket", socket.SOCK_SEQPACKET),
    ],
)
def test_kinds(kind: str, sock_type: int) -> None:
    with forked_peer(lambda sock: (sock.type, sock.recv(64)), kind=kind) as peer:
        assert peer.sock.type == sock_type
        peer.sock.send(b"msg")
        assert peer.join(timeout=10) == (sock_type, b"msg")


def test_exception_travels_with_its_traceback() -> None:
    def nested_failure(sock: socket.socket) -> None:
        raise ValueError("bad value 42")

    with forked_peer(nested_failure) as peer, pytest.raises(PeerError) as raised:
        peer.join(timeout=10)
    error = raised.value
    assert isinstance(error, AssertionError)
    assert error.pid == peer.pid
    assert error.exc_type == "ValueError"
    assert isinstance(error.exception, ValueError)
    assert error.exception.args == ("bad value 42",)
    text = str(error)
    assert text.startswith(f"peer pid {peer.pid} raised ValueError; child traceback:")
    assert "Traceback (most recent call last):" in text
    assert "in nested_failure" in text
    assert "ValueError: bad value 42" in text


def test_unpicklable_exception_travels_as_text() -> None:
    class Local(Exception):  # a local class cannot be pickled
        pass

    def target(sock: socket.socket) -> None:
        raise Local("only as text")

    with forked_peer(target) as peer, pytest.raises(PeerError, match="only as text") as raised:
        peer.join(timeout=10)
    assert raised.value.exception is None
    assert "Local" in raised.value.exc_type


def test_unpicklable_return_value_is_a_clear_error() -> None:
    with forked_peer(lambda sock: lambda: 1) as peer, pytest.raises(PeerError) as raised:
        peer.join(timeout=10)
    assert "the peer's return value of type function cannot be pickled" in str(raised.value)
    assert raised.value.exc_type == "TypeError"


def test_system_exit_in_the_target_is_reported_not_obeyed() -> None:
    with (
        forked_peer(lambda sock: sys.exit(5)) as peer,
        pytest.raises(PeerError, match="SystemExit"),
    ):
        peer.join(timeout=10)


# -- deaths ---------------------------------------------------------------------------------------


def test_death_by_sigpipe_is_named() -> None:
    def write_to_a_closed_peer(sock: socket.socket) -> None:
        sock.recv(1)  # EOF once the parent has closed its end
        sock.sendall(b"x")  # stream: EPIPE and SIGPIPE, whose default action kills

    with forked_peer(write_to_a_closed_peer) as peer:
        peer.sock.close()
        with pytest.raises(PeerDied) as raised:
            peer.join(timeout=10)
    assert raised.value.signal == signal.SIGPIPE
    assert raised.value.exitcode is None
    assert str(raised.value) == f"peer pid {peer.pid} killed by SIGPIPE"


def test_exit_status_is_reported() -> None:
    with forked_peer(lambda sock: os._exit(3)) as peer, pytest.raises(PeerDied) as raised:
        peer.join(timeout=10)
    assert (raised.value.exitcode, raised.value.signal) == (3, None)
    assert "exited with status 3 without returning a result" in str(raised.value)


def test_own_deadline_ends_a_stuck_peer() -> None:
    with forked_peer(block_forever, deadline=0.2) as peer, pytest.raises(PeerDied) as raised:
        peer.join(timeout=30)
    assert raised.value.signal == signal.SIGALRM
    assert str(raised.value).endswith("killed by SIGALRM (its own deadline of 0.2 s expired)")


def test_join_timeout_kills_and_reaps_the_peer() -> None:
    with forked_peer(block_forever, deadline=60) as peer:
        started = time.monotonic()
        with pytest.raises(PeerTimeout) as raised:
            peer.join(timeout=0.1)
        assert time.monotonic() - started < 5
        assert_reaped(peer.pid)
        assert (
            f"peer pid {peer.pid} did not finish within 0.1 s; killed its process group "
            "(SIGTERM, then SIGKILL) and reaped it"
        ) == str(raised.value)
        with pytest.raises(PeerTimeout):
            peer.join()  # the same outcome again, no second wait


def test_exit_kills_a_running_peer_and_its_group() -> None:
    """The group goes, grandchildren included, and the peer is reaped."""

    def spawn_grandchild(sock: socket.socket) -> None:
        pid = os.fork()
        if pid == 0:
            block_forever(sock)
        sock.sendall(str(pid).encode())
        block_forever(sock)

    with forked_peer(spawn_grandchild, deadline=60) as peer:
        grandchild = int(peer.sock.recv(32))
        assert os.getpgid(grandchild) == peer.pid
        pidfd = os.pidfd_open(grandchild) if hasattr(os, "pidfd_open") else None
    try:
        assert_reaped(peer.pid)
        if pidfd is not None:
            assert exited(pidfd, 5.0), "the grandchild outlived the peer's teardown"
    finally:
        if pidfd is not None:
            os.close(pidfd)


def test_exit_reaps_a_peer_that_already_ended() -> None:
    with forked_peer(lambda sock: None) as peer:
        assert peer.sock.recv(1) == b""  # its end closed: it is exiting
    assert_reaped(peer.pid)


# -- what the child gets --------------------------------------------------------------------------


CLOSINGS = ["os.closerange", "libc close_range", "listing /dev/fd", "close_range failing"]


def use_closing(closing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the child close its descriptors the way ``closing`` names."""
    if closing == "os.closerange":
        if not peer_module._OS_CLOSERANGE:
            pytest.skip("os.closerange does not make a close_range(2) call here")
        return
    monkeypatch.setattr(peer_module, "_OS_CLOSERANGE", False)
    if closing == "listing /dev/fd":
        monkeypatch.setattr(peer_module, "_CLOSE_RANGE", None)
    elif peer_module._CLOSE_RANGE is None:
        pytest.skip("no close_range in this libc")
    elif closing == "close_range failing":
        monkeypatch.setattr(peer_module, "_CLOSE_RANGE", lambda first, last, flags: -1)


@pytest.mark.parametrize("closing", CLOSINGS)
def test_child_environment(
    pipe: tuple[int, int], closing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Own process group, default dispositions, empty signal mask, stdin /dev/null, and no
    descriptors but its socket, stdio, a private result pipe and pass_fds.  Each way of
    closing the rest is tried: os.closerange() where it is one close_range(2) call, libc's
    close_range over the gaps, the listing of /dev/fd (not Linux), and the listing after
    close_range failed (ENOSYS, seccomp's EPERM)."""
    use_closing(closing, monkeypatch)
    unrelated_r, passed_w = pipe

    def inspect(sock: socket.socket) -> dict[str, object]:
        os.write(passed_w, b"passed")
        try:
            os.fstat(unrelated_r)
            unrelated_open = True
        except OSError:
            unrelated_open = False
        devnull = os.stat(os.devnull)
        stdin = os.fstat(0)
        return {
            "pgid": os.getpgid(0),
            "handlers": {
                signal.Signals(s).name: signal.getsignal(s) == signal.SIG_DFL
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGALRM)
            },
            "mask": signal.pthread_sigmask(signal.SIG_BLOCK, []),
            "stdin_is_devnull": (stdin.st_dev, stdin.st_ino) == (devnull.st_dev, devnull.st_ino),
            "unrelated_open": unrelated_open,
            "fds": sorted(int(fd) for fd in os.listdir("/dev/fd")),
            "sock": sock.fileno(),
            "itimer": signal.getitimer(signal.ITIMER_REAL)[0],
        }

    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    try:
        with forked_peer(inspect, pass_fds=[passed_w], deadline=20) as peer:
            info = peer.join(timeout=10)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    assert os.read(unrelated_r, 6) == b"passed"
    assert info["pgid"] == peer.pid != os.getpgid(0)
    assert info["handlers"] == {"SIGINT": True, "SIGTERM": True, "SIGPIPE": True, "SIGALRM": True}
    assert info["mask"] == set()
    assert info["stdin_is_devnull"]
    assert not info["unrelated_open"]
    # stdio, the socket, the passed fd, the result pipe, and the fd listing /dev/fd itself
    assert {0, 1, 2, info["sock"], passed_w} <= set(info["fds"])
    assert len(info["fds"]) <= 7, info["fds"]
    assert 0 < info["itimer"] <= 20


def test_socket_arguments_stay_open_in_the_child() -> None:
    extra_a, extra_b = socket.socketpair()
    with extra_a, extra_b:
        with forked_peer(lambda sock, other: other.send(b"via arg"), extra_b) as peer:
            assert peer.join(timeout=10) == 7
        assert extra_a.recv(16) == b"via arg"


@pytest.mark.parametrize(
    ("have_close_range", "probe", "expected"),
    [(1, 0, True), (1, -1, False), (0, 0, False), (None, 0, False)],
    ids=["built with it, probe ok", "probe fails", "built without it", "not in the build info"],
)
def test_os_closerange_used_only_when_it_is_one_system_call(
    monkeypatch: pytest.MonkeyPatch, have_close_range: int | None, probe: int, expected: bool
) -> None:
    """CPython's os.closerange() falls back to close() on every number when the kernel lacks
    close_range(2), and closes nothing when seccomp denies it: it is used only when the build
    has close_range and the system call answers."""
    monkeypatch.setattr(
        peer_module.sysconfig,
        "get_config_var",
        lambda name: have_close_range if name == "HAVE_CLOSE_RANGE" else None,
    )
    monkeypatch.setattr(peer_module, "_CLOSE_RANGE", lambda first, last, flags: probe)
    assert peer_module._close_range_works() is expected


def c_signal_handler(signum: int) -> int:
    """The handler address the kernel has for ``signum`` (0 is SIG_DFL), as sigaction(2) reports
    it: faulthandler's C handlers are not in Python's own table.  sa_handler is the first field
    of struct sigaction on Linux and the BSDs."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    action = ctypes.create_string_buffer(512)
    if libc.sigaction(signum, None, action) != 0:
        raise OSError(ctypes.get_errno(), "sigaction")
    return ctypes.c_void_p.from_buffer(action).value or 0


def test_faulthandler_is_off_in_the_child() -> None:
    """pytest enables faulthandler, whose SIGSEGV (and SIGABRT, ...) handlers are C handlers
    Python's signal table does not show: the child gets SIG_DFL for them, like any C program."""
    was_enabled = faulthandler.is_enabled()
    faulthandler.enable()
    try:
        assert c_signal_handler(signal.SIGSEGV) != 0  # the parent: faulthandler's handler
        with forked_peer(lambda sock: c_signal_handler(signal.SIGSEGV)) as peer:
            assert peer.join(timeout=10) == 0
    finally:
        if not was_enabled:
            faulthandler.disable()


def test_child_stdin_when_the_parent_has_none() -> None:
    """A parent without a descriptor 0: the socketpair takes 0, and the child still gets its
    own end of it working and /dev/null as an inheritable stdin."""
    code = textwrap.dedent(
        """
        import os
        from pytest_unixipc import forked_peer
        os.close(0)
        def stdin(sock):
            sock.sendall(sock.recv(4) * 2)
            null, zero = os.stat(os.devnull), os.fstat(0)
            return (zero.st_dev, zero.st_ino) == (null.st_dev, null.st_ino), os.get_inheritable(0)
        with forked_peer(stdin) as peer:
            assert peer.sock.fileno() == 0
            peer.sock.sendall(b"ping")
            assert peer.sock.recv(8) == b"pingping"
            print(peer.join(timeout=10))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(True, True)"


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux only")
def test_child_has_parent_death_signal() -> None:
    with forked_peer(pdeathsig_of_child) as peer:
        peer.sock.send(b"go")
        assert peer.join(timeout=10) == signal.SIGKILL


def test_child_runs_no_atexit_handler_and_repeats_no_buffered_output() -> None:
    """The child never runs the parent's atexit handlers or flushes its buffers a second time
    (a separate interpreter, so this test's process keeps its own atexit list)."""
    code = textwrap.dedent(
        """
        import atexit, os, sys
        from pytest_unixipc import forked_peer
        atexit.register(lambda: print(f"atexit in {os.getpid()}", flush=True))
        sys.stdout.write("buffered before fork;")  # a pipe: block-buffered, not yet written
        def child(sock):
            print("child output", flush=True)
            return os.getpid()
        with forked_peer(child) as peer:
            pid = peer.join(timeout=10)
        print(f"parent {os.getpid()} child {pid}")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.count("buffered before fork;") == 1, out
    assert out.count("child output") == 1, out
    assert out.count("atexit in") == 1, out
    parent = out.split("parent ")[1].split()[0]
    assert f"atexit in {parent}" in out


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"kind": "raw"}, ValueError, "expected one of stream, dgram, seqpacket"),
        ({"deadline": 0}, ValueError, "a peer deadline must be positive"),
    ],
)
def test_bad_arguments_fork_nothing(kwargs: dict[str, object], error: type, message: str) -> None:
    before = list_children()
    with pytest.raises(error, match=message), forked_peer(block_forever, **kwargs):  # type: ignore[arg-type]
        pytest.fail("the body must not run")
    assert list_children() == before


def test_target_must_be_callable() -> None:
    with pytest.raises(TypeError, match="needs a callable target, got str"), forked_peer("x"):  # type: ignore[arg-type]
        pytest.fail("the body must not run")


# -- hypothesis -----------------------------------------------------------------------------------


def echo_once(sock: socket.socket) -> bytes:
    return sock.recv(1 << 16)


@settings(max_examples=20, deadline=None)
@given(payload=st.binary(min_size=1, max_size=4096), kind=st.sampled_from(["dgram", "seqpacket"]))
def test_round_trip_under_hypothesis(payload: bytes, kind: str) -> None:
    with forked_peer(echo_once, kind=kind) as peer:
        peer.sock.send(payload)
        assert peer.join(timeout=10) == payload
    assert_reaped(peer.pid)


# -- reaping ---------------------------------------------------------------------------------------


def test_reap_group_escalates_to_sigkill_for_a_child_ignoring_sigterm() -> None:
    ready_r, ready_w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.setpgid(0, 0)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.write(ready_w, b"r")
            block_forever(socket.socket())
        finally:
            os._exit(1)
    os.close(ready_w)
    try:
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        wait_readable(ready_r, 10, "the child ignoring SIGTERM")
    finally:
        os.close(ready_r)
    started = time.monotonic()
    status = reap_group(pid, grace=0.1)
    assert status is not None
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGKILL
    assert time.monotonic() - started >= 0.1
    assert_reaped(pid)


def pdeathsig_of_child(sock: socket.socket) -> int:
    """The child's parent-death signal (prctl(2) PR_GET_PDEATHSIG)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    value = ctypes.c_int(-1)
    libc.prctl(2, ctypes.byref(value), 0, 0, 0)
    sock.recv(1)  # wait until the parent says so
    return value.value


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux only")
def test_peer_forked_by_a_thread_outlives_the_thread() -> None:
    """Regression: PR_SET_PDEATHSIG fires when the forking *thread* ends, so a peer forked
    from a short-lived thread was SIGKILLed as soon as that thread returned."""
    with contextlib.ExitStack() as stack:
        made: list[ForkedPeer] = []
        thread = threading.Thread(
            target=lambda: made.append(stack.enter_context(forked_peer(pdeathsig_of_child)))
        )
        thread.start()
        thread.join()
        (peer,) = made
        peer.sock.send(b"go")
        assert peer.join(timeout=10) == 0  # no parent-death signal, and alive to answer


def test_join_does_not_wait_for_a_grandchild_holding_the_result_pipe() -> None:
    """Regression: join() read the result until EOF, which a grandchild forked by the target
    (holding a copy of the result pipe) delayed until it exited: PeerTimeout although the
    target had returned.  Its group is still ended at join."""

    def fork_a_lingering_grandchild(sock: socket.socket) -> int:
        pid = os.fork()
        if pid == 0:
            block_forever(sock)
        return pid

    with forked_peer(fork_a_lingering_grandchild) as peer:
        started = time.monotonic()
        grandchild = peer.join(timeout=5)
        assert time.monotonic() - started < 4
    assert_reaped(peer.pid)
    if not hasattr(os, "pidfd_open"):
        return
    with contextlib.suppress(ProcessLookupError):  # already gone, or a zombie of init's
        pidfd = os.pidfd_open(grandchild)
        try:
            assert exited(pidfd, 5.0), "the grandchild outlived join()"
        finally:
            os.close(pidfd)


@pytest.mark.parametrize("failure", ["fork fails", "bad pass_fds"])
def test_a_failed_start_leaves_no_descriptor(monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    """Regression: an error between socketpair() and fork() (fork's EAGAIN, EMFILE, a bad
    pass_fds) left the socketpair and the result pipe open."""
    kwargs: dict[str, object] = {}
    if failure == "fork fails":

        def no_fork() -> int:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

        monkeypatch.setattr(peer_module, "_fork", no_fork)
        error: type[Exception] = BlockingIOError
    else:
        kwargs["pass_fds"] = [[1]]  # unhashable: fails building the set of kept descriptors
        error = TypeError
    before = Snapshot.take()
    with pytest.raises(error), forked_peer(block_forever, **kwargs):  # type: ignore[arg-type]
        pytest.fail("the body must not run")
    assert not before.leaks_since()


def test_join_after_exit_is_a_clear_error() -> None:
    with forked_peer(block_forever, deadline=60) as peer:
        pass
    assert_reaped(peer.pid)
    with pytest.raises(RuntimeError, match=f"peer pid {peer.pid} was closed before join"):
        peer.join()


def test_join_without_pidfd(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there is no pidfd_open (macOS, old kernels) join() waits for the exit by polling
    waitid() with a back-off; the result is the same."""
    monkeypatch.delattr(os, "pidfd_open", raising=False)

    def slow_exit(sock: socket.socket) -> str:
        sock.recv(1)
        return "late"

    with forked_peer(slow_exit) as peer:
        peer.sock.send(b"x")
        assert peer.join(timeout=10) == "late"
    assert_reaped(peer.pid)
