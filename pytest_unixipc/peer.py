"""A forked peer process on the other end of a socketpair (fork(2), socketpair(2)).

The child runs ``target(sock, *args)``.  It is made safe to fork from inside pytest:

* it ends with ``os._exit`` whatever happens, so it never runs the parent's pytest teardown,
  atexit handlers or unflushed stdio buffers (the parent flushes before forking);
* it gets its own process group, default signal dispositions (SIGPIPE kills it, as in C),
  stdin from /dev/null, and no descriptors but stdout/stderr, its socket end and ``pass_fds``;
* it has its own deadline (SIGALRM with the default action), since pytest-timeout's timers do
  not follow a fork; on Linux PR_SET_PDEATHSIG kills it if the parent dies without teardown
  (pytest-timeout's thread method calls ``os._exit``).  PR_SET_PDEATHSIG fires when the
  *thread* that forked ends (prctl(2)), so it is set only for peers forked by the main thread:
  a peer forked by a short-lived thread (a server handler, a thread pool) would otherwise be
  killed as soon as that thread returns.  Such a peer still ends at its own deadline.

The parent gets the return value back pickled through a private pipe, or the child's exception
with its traceback text, or the signal or exit status that ended it, by name.

Cost: after fork(2) every page either process writes is copied on its first write, and on a
virtual machine those faults cost more than the system calls.  So the parent works out the
child's whole set-up before forking, the child carries it out with C calls, and both run as
little Python as they can between the fork and the reaping.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import faulthandler
import os
import pickle
import select
import signal
import socket
import struct
import sys
import sysconfig
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, NoReturn

from pytest_unixipc.deadline import Deadline
from pytest_unixipc.kinds import socket_type

__all__ = ["ForkedPeer", "PeerDied", "PeerError", "PeerTimeout", "forked_peer", "reap_group"]

#: Default deadline of a child, in seconds, when the caller gives none.
DEFAULT_DEADLINE = 30.0
#: How long a child gets between SIGTERM and SIGKILL at teardown.
TERM_GRACE = 1.0

_PR_SET_PDEATHSIG = 1
_OK, _RAISED = b"R", b"E"
#: The result's length, ahead of it on the result pipe.
_HEADER = struct.Struct("!Q")


class PeerError(AssertionError):
    """The peer's target raised; the message includes the child's traceback."""

    def __init__(self, pid: int, exc_type: str, text: str, exception: BaseException | None):
        self.pid = pid
        self.exc_type = exc_type
        self.exception = exception
        super().__init__(f"peer pid {pid} raised {exc_type}; child traceback:\n{text}")


class PeerDied(AssertionError):
    """The peer ended without a result: killed by a signal or exited with a status."""

    def __init__(self, pid: int, status: int, note: str = "") -> None:
        self.pid = pid
        self.signal: int | None = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        self.exitcode: int | None = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        super().__init__(f"peer pid {pid} {describe_status(status)}{note}")


class PeerTimeout(AssertionError):
    """The peer did not finish in time; its process group was killed."""


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def describe_status(status: int) -> str:
    """'killed by SIGPIPE', 'exited with status 3', ... for a waitpid() status."""
    if os.WIFSIGNALED(status):
        return f"killed by {signal_name(os.WTERMSIG(status))}"
    if os.WIFEXITED(status):
        return f"exited with status {os.WEXITSTATUS(status)} without returning a result"
    return f"ended with wait status {status:#x}"


def _libc_function(name: str, restype: Any) -> Any:
    """A libc function, looked up once here so the forked child only calls it; None if libc or
    the function is missing."""
    path = ctypes.util.find_library("c")
    if not path:
        return None
    try:
        function = getattr(ctypes.CDLL(path), name)
    except AttributeError:
        return None
    function.restype = restype
    return function


_LINUX = sys.platform.startswith("linux")
_PRCTL: Any = _libc_function("prctl", ctypes.c_int) if _LINUX else None
#: close_range(2) (glibc >= 2.34); None where libc has no wrapper.
_CLOSE_RANGE: Any = _libc_function("close_range", ctypes.c_int) if _LINUX else None
if _CLOSE_RANGE is not None:
    _CLOSE_RANGE.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_int]
_ALL_ABOVE = 0xFFFFFFFF  # close_range's "up to the last possible descriptor" (~0U)
#: prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) as C values made here, not in the child (the
#: unsigned long arguments must not be passed as C ints, whose upper half is undefined).
_PDEATHSIG_ARGS = (
    ctypes.c_int(_PR_SET_PDEATHSIG),
    ctypes.c_ulong(signal.SIGKILL),
    ctypes.c_ulong(0),
    ctypes.c_ulong(0),
    ctypes.c_ulong(0),
)

# The child runs as little Python as it can: every page it writes costs a copy-on-write fault,
# which on a virtual machine outweighs the system calls.  So the parent works out the whole
# set-up beforehand (a _ChildPlan of plain ints and tuples), and the child only carries it out,
# calling C functions (the _signal module's, which take ints) rather than Python wrappers.
_SIGNALS: tuple[int, ...] = tuple(
    int(s) for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)
)
_SIGNAL_C: Any = getattr(signal, "_signal", signal)
_SIG_DFL = int(signal.SIG_DFL)
#: The highest descriptor number os.closerange() is asked to close up to.
_FD_CEILING = 2**31 - 1


def _close_range_works() -> bool:
    """Does os.closerange() make one close_range(2) call here?

    CPython built with close_range (HAVE_CLOSE_RANGE) calls it first, but when the kernel
    lacks it (ENOSYS) falls back to close() on every number, and when seccomp denies it (EPERM)
    it silently closes nothing.  So it is used only when the build has it and a probe of the
    system call itself, on a range where nothing is open, succeeds.
    """
    if _CLOSE_RANGE is None or not sysconfig.get_config_var("HAVE_CLOSE_RANGE"):
        return False
    return bool(_CLOSE_RANGE(_FD_CEILING - 1, _FD_CEILING - 1, 0) == 0)


_OS_CLOSERANGE = _LINUX and _close_range_works()


def _signals_to_reset() -> tuple[int, ...]:
    """The signals Python has a handler for or ignores, as far as its own table tells.

    Resetting only these in the child (instead of every signal) keeps the child's set-up short;
    signal.getsignal() reads Python's own table, so this costs no system call.  The handlers
    faulthandler installs in C are not in that table: see _ChildPlan.faulthandler.
    """
    getsignal = _SIGNAL_C.getsignal
    return tuple(s for s in _SIGNALS if getsignal(s) not in (_SIG_DFL, signal.SIG_DFL))


class _ChildPlan(NamedTuple):
    """Everything the child does before the target, worked out by the parent."""

    deadline: float
    #: The parent's pid if PR_SET_PDEATHSIG is to be set, else 0.
    parent: int
    #: Signals whose disposition goes back to SIG_DFL.
    signals: tuple[int, ...]
    #: faulthandler is on: disable() it, which puts back the handlers it replaced.
    faulthandler: bool
    #: The forking thread blocks signals: unblock them all.
    unmask: bool
    #: A descriptor open on /dev/null (close-on-exec in the parent) that becomes stdin.
    devnull: int
    #: Descriptors the child keeps (stdio, its socket, the result pipe, pass_fds), sorted.
    keep: tuple[int, ...]


def _plan(deadline: float, keep: set[int], devnull: int) -> _ChildPlan:
    main = threading.current_thread() is threading.main_thread()
    return _ChildPlan(
        deadline=deadline,
        parent=os.getpid() if main and _PRCTL is not None else 0,
        signals=_signals_to_reset(),
        faulthandler=faulthandler.is_enabled(),
        unmask=bool(signal.pthread_sigmask(signal.SIG_BLOCK, ())),
        devnull=devnull,
        keep=tuple(sorted(keep | {0, 1, 2})),
    )


def _close_all_but(keep: tuple[int, ...]) -> None:
    """Close every descriptor not in the sorted ``keep``.

    Linux: close_range(2) over the gaps between kept descriptors, a few system calls whatever
    the descriptor limit: through os.closerange() where that is known to call it (see
    _close_range_works), else through libc.  Never CPython's fallback of close() on every number
    up to the limit, which with a limit of 2**20 (containers) costs a tenth of a second per
    fork.  Elsewhere, or if close_range fails: the open descriptors as listed in /dev/fd.
    """
    if _OS_CLOSERANGE:
        start = 0
        for fd in keep:
            if start < fd:
                os.closerange(start, fd)
            start = fd + 1
        os.closerange(start, _FD_CEILING)
        return
    if _CLOSE_RANGE is not None and _close_ranges(keep):
        return
    try:
        fds = [int(name) for name in os.listdir("/dev/fd")]
    except OSError:
        fds = list(range(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024))
    for fd in fds:
        if fd not in keep:
            try:  # noqa: SIM105 - no contextlib.suppress object in the child
                os.close(fd)
            except OSError:
                pass


def _close_ranges(kept: tuple[int, ...]) -> bool:
    """close_range() every gap between the sorted ``kept`` descriptors; False on a failure."""
    start = 0
    for fd in kept:
        if start < fd and _CLOSE_RANGE(start, fd - 1, 0) != 0:
            return False
        start = fd + 1
    return bool(_CLOSE_RANGE(start, _ALL_ABOVE, 0) == 0)


def _child_setup(plan: _ChildPlan) -> None:
    os.setpgid(0, 0)
    set_handler = _SIGNAL_C.signal
    for signum in plan.signals:
        try:  # noqa: SIM105 - no contextlib.suppress object per signal in the child
            set_handler(signum, _SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
    if plan.faulthandler:
        faulthandler.disable()
    if plan.unmask:
        _SIGNAL_C.pthread_sigmask(signal.SIG_SETMASK, ())
    if plan.parent:
        _PRCTL(*_PDEATHSIG_ARGS)
        if os.getppid() != plan.parent:  # the parent died before prctl took effect
            os._exit(111)
    os.dup2(plan.devnull, 0)  # never 0 itself: the socketpair, made first, took a free 0
    _close_all_but(plan.keep)
    signal.setitimer(signal.ITIMER_REAL, plan.deadline)


def _encode_exception(exc: BaseException) -> bytes:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    blob: bytes | None
    try:
        blob = pickle.dumps(exc)
        pickle.loads(blob)
    except Exception:  # unpicklable exceptions travel as text only
        blob = None
    return _RAISED + pickle.dumps((type(exc).__qualname__, text, blob))


def _run_child(
    target: Callable[..., object],
    sock: socket.socket,
    args: tuple[object, ...],
    result_w: int,
    plan: _ChildPlan,
) -> NoReturn:
    """Body of the forked child: set up, run the target, flush stdio, send the result, exit.

    The result is written last, so once the parent has all of it the child has nothing left
    to do but _exit().
    """
    code = 71
    try:
        _child_setup(plan)
        code = 70
        try:
            value = target(sock, *args)
            try:
                payload = _OK + pickle.dumps(value)
            except Exception as exc:
                kind = type(value).__name__
                payload = _encode_exception(
                    TypeError(f"the peer's return value of type {kind} cannot be pickled: {exc}")
                )
        except BaseException as exc:
            payload = _encode_exception(exc)
        for stream in (sys.stdout, sys.stderr):
            try:  # noqa: SIM105 - no contextlib.suppress objects in the child
                stream.flush()
            except Exception:
                pass
        view = memoryview(_HEADER.pack(len(payload)) + payload)
        while view:
            view = view[os.write(result_w, view) :]
        code = 0
    finally:
        os._exit(code)


def reap_group(pid: int, grace: float = TERM_GRACE) -> int | None:
    """Kill process group ``pid`` (SIGTERM, then SIGKILL after ``grace`` s) and reap ``pid``.

    The group is signalled while its leader is unreaped, so the group id cannot have been
    reused.  Returns the wait status, or None if ``pid`` was already reaped.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    wait_exit(pid, grace)
    return kill_group_and_reap(pid)


def kill_group_and_reap(pid: int) -> int | None:
    """SIGKILL what is left of group ``pid`` and reap its leader (blocking)."""
    try:  # noqa: SIM105 - runs while the parent's pages are copy-on-write: no extra objects
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone, or the child left it by exec'ing a setuid program
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    return status


def _exited(pid: int) -> bool:
    """Has child ``pid`` exited?  Leaves it unreaped (waitid with WNOWAIT)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` s for child ``pid`` to exit, without reaping it.

    Uses a pidfd where the platform has one, so the wait is an event, not a poll loop.
    """
    if _exited(pid):
        return True
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        with contextlib.suppress(OSError):
            pidfd = pidfd_open(pid)
            try:
                select.select([pidfd], [], [], timeout)
            finally:
                os.close(pidfd)
            return _exited(pid)
    # No pidfd: SIGCHLD is not ours to take inside pytest, so poll with a back-off.
    deadline = Deadline(timeout, f"exit of pid {pid}")
    backoff = 0.001
    while not deadline.expired():
        select.select([], [], [], min(backoff, deadline.remaining()))
        backoff = min(backoff * 2, 0.05)
        if _exited(pid):
            return True
    return False


def _fork() -> int:
    """os.fork(), without Python 3.12+'s DeprecationWarning about forking with threads
    (pytest-xdist workers, our own server threads): the child only runs the target and
    os._exit()s.  The warning filters are put back in the parent only; the child never
    returns to code that would see them."""
    if sys.version_info < (3, 12):
        return os.fork()
    saved = warnings.catch_warnings()
    saved.__enter__()
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*fork.*")
    try:
        pid = os.fork()
    except BaseException:
        saved.__exit__(None, None, None)
        raise
    if pid:
        saved.__exit__(None, None, None)
    return pid


class ForkedPeer:
    """The parent's handle on a forked peer: ``sock``, ``pid`` and :meth:`join`.

    A context manager: leaving it kills the child's process group if it is still running,
    reaps the child and closes ``sock``.
    """

    def __init__(
        self,
        target: Callable[..., object],
        args: tuple[object, ...],
        *,
        kind: str = "stream",
        pass_fds: Iterable[int] = (),
        deadline: float | None = None,
    ) -> None:
        if not callable(target):
            raise TypeError(f"forked_peer needs a callable target, got {type(target).__name__}")
        self.kind = kind
        self.deadline = DEFAULT_DEADLINE if deadline is None else deadline
        if self.deadline <= 0:
            raise ValueError(f"a peer deadline must be positive, got {self.deadline}")
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket_type(kind))
        result_r = result_w = devnull = -1
        try:
            result_r, result_w = os.pipe()
            devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            keep = {child_sock.fileno(), result_w, *pass_fds}
            keep |= {a.fileno() for a in args if isinstance(a, socket.socket)}
            plan = _plan(self.deadline, keep, devnull)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            pid = _fork()
        except BaseException:  # e.g. EMFILE, or fork(): EAGAIN: leave nothing open
            parent_sock.close()
            child_sock.close()
            for fd in (result_r, result_w, devnull):
                if fd >= 0:
                    os.close(fd)
            raise
        if pid == 0:  # pragma: no cover - runs in the child
            _run_child(target, child_sock, args, result_w, plan)
        # From here until the child ends, every page the parent writes is copied (copy on
        # write), so this path stays short: C calls, no context managers.
        os.close(child_sock.detach())
        os.close(result_w)
        os.close(devnull)
        try:  # noqa: SIM105 - as the comment above says
            os.setpgid(pid, pid)  # also set here, so killpg works before the child runs
        except (PermissionError, ProcessLookupError):
            pass  # it has exec'd or already ended: its own setpgid() counts
        self.pid = pid
        self.sock = parent_sock
        self._result_r = result_r
        self._status: int | None = None
        self._outcome: tuple[str, object] | None = None

    def __enter__(self) -> ForkedPeer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def exited(self) -> bool:
        return self._status is not None

    def join(self, timeout: float = 5.0) -> Any:
        """Wait for the child; return its return value or raise what ended it.

        Raises :class:`PeerError` (the target raised), :class:`PeerDied` (a signal or an exit
        status ended it) or :class:`PeerTimeout` (not done within ``timeout`` s; its process
        group is then killed and reaped).  When join() returns, the child has been reaped.
        """
        if self._outcome is None:
            if self._result_r < 0:  # close() came first: it killed and reaped the peer
                raise RuntimeError(f"peer pid {self.pid} was closed before join(): no result")
            self._outcome = self._collect(timeout)
        kind, value = self._outcome
        if kind == "ok":
            return value
        assert isinstance(value, BaseException)
        raise value

    def _collect(self, timeout: float) -> tuple[str, object]:
        # The result is length-prefixed, so it is complete without waiting for EOF: a
        # grandchild the target forked holds a copy of the pipe's write end and may outlive it.
        end = time.monotonic() + timeout
        received = b""
        size = -1
        while size < 0 or len(received) < _HEADER.size + size:
            if not select.select([self._result_r], [], [], max(0.0, end - time.monotonic()))[0]:
                reap_group(self.pid)
                self._status = -1
                self._close_result()
                return "err", PeerTimeout(
                    f"peer pid {self.pid} did not finish within {timeout:g} s; "
                    "killed its process group (SIGTERM, then SIGKILL) and reaped it"
                )
            chunk = os.read(self._result_r, 1 << 16)
            if not chunk:
                break  # the child ended without (all of) a result
            received += chunk
            if size < 0 and len(received) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(received)
        self._close_result()
        if size >= 0 and len(received) >= _HEADER.size + size:
            # The whole result is here, and the child writes it last: nothing it has still to
            # do can be lost, so its group (grandchildren included) is ended at once.
            status = kill_group_and_reap(self.pid)
            self._status = status if status is not None else -1
            return self._decode(received[_HEADER.size :])
        remaining = max(end - time.monotonic(), 1.0)
        if not wait_exit(self.pid, remaining):
            status = reap_group(self.pid)
            self._status = status if status is not None else -1
            note = "; it closed its result pipe but did not exit, so it was killed"
            return "err", PeerTimeout(f"peer pid {self.pid} did not exit{note}")
        status = kill_group_and_reap(self.pid)  # also ends grandchildren left in its group
        self._status = status if status is not None else -1
        assert status is not None
        note = ""
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM:
            note = f" (its own deadline of {self.deadline:g} s expired)"
        return "err", PeerDied(self.pid, status, note)

    def _decode(self, payload: bytes) -> tuple[str, object]:
        if payload[:1] == _OK:
            return "ok", pickle.loads(payload[1:])
        exc_type, text, blob = pickle.loads(payload[1:])
        original = pickle.loads(blob) if blob is not None else None
        return "err", PeerError(self.pid, exc_type, text, original)

    def _close_result(self) -> None:
        if self._result_r >= 0:
            os.close(self._result_r)
            self._result_r = -1

    def close(self) -> None:
        """Kill the child's group if it is still running, reap it, close the parent's socket."""
        if self._status is None:
            status = reap_group(self.pid)
            self._status = status if status is not None else -1
        self._close_result()
        self.sock.close()


def forked_peer(
    target: Callable[..., object],
    *args: object,
    kind: str = "stream",
    pass_fds: Iterable[int] = (),
    deadline: float | None = None,
) -> ForkedPeer:
    """Fork a peer running ``target(sock, *args)``; use it as a context manager, whose exit
    kills and reaps the peer's process group (``with forked_peer(target) as peer: ...``)."""
    return ForkedPeer(target, args, kind=kind, pass_fds=pass_fds, deadline=deadline)
