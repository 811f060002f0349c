"""The classic IPC mechanisms as context managers that clean up everything they make.

Pipes and FIFOs (pipe(7), fifo(7)), shared memory (mmap(2), shm_open(3), shmget(2)),
semaphores and process-shared mutexes (sem_overview(7), pthread_mutexattr_setpshared(3),
semget(2)) and message queues (mq_overview(7), msgget(2)). The calls the standard library lacks
come from :mod:`pytest_unixipc.posix_ipc` (ctypes; see its docstring for why not a compiled
package).

Every named object gets a name unique per process and pytest-xdist worker
(:func:`unique_name`: ``/uxipc-<worker>-<pid>-<token>``) and is unlinked or removed on exit
even when the body raised, so nothing is left in /dev/shm or ``ipcs``. No pytest imports.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import mmap
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pytest_unixipc import posix_ipc
from pytest_unixipc.deadline import Deadline
from pytest_unixipc.paths import ipc_tmp_dir
from pytest_unixipc.posix_ipc import MessageQueue, NamedSemaphore, PsharedMutex, UnnamedSemaphore

__all__ = [
    "PIPE_CREATORS",
    "PipeCreator",
    "PipeEnds",
    "PosixShm",
    "SysVMessageQueue",
    "SysVShmSegment",
    "errno_name",
    "fifo_pipe",
    "fill_nonblocking",
    "mqueue_unavailable",
    "named_semaphore",
    "os_pipe",
    "outcome",
    "posix_mqueue",
    "posix_shm",
    "proc_sys_int",
    "pshared_mutex",
    "reverse_direction",
    "shared_anon_mapping",
    "sysv_msgqueue",
    "sysv_semaphore_set",
    "sysv_shm_segment",
    "sysv_unavailable",
    "unique_name",
    "unnamed_semaphore",
    "wait_sleeping",
]


def unique_name(prefix: str = "uxipc") -> str:
    """A fresh POSIX IPC name: ``/<prefix>-<xdist worker>-<pid>-<random token>``."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"/{prefix}-{worker}-{os.getpid()}-{secrets.token_hex(4)}"


def proc_sys_int(path: str) -> int | None:
    """An integer from a Linux /proc/sys file (e.g. "fs/pipe-max-size"), None if absent."""
    try:
        with open(os.path.join("/proc/sys", path)) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_sleeping(pid: int, timeout: float, what: str) -> bool:
    """Wait until process ``pid`` sleeps interruptibly (state S in /proc/<pid>/stat), as
    LTP's TST_PROCESS_STATE_WAIT does, to know a peer is blocked in the call it was about to
    make. True once it sleeps; False when there is no /proc to look at or the process has
    ended (its own result then says why); TimeoutError naming ``what`` after ``timeout`` s.

    This is a bounded poll of the process state with sched_yield() between looks, not a
    sleep: there is no event for "another process went to sleep".
    """
    stat = f"/proc/{pid}/stat"
    if not os.path.exists(f"/proc/{os.getpid()}/stat"):
        return False
    deadline = Deadline(timeout, what)
    while True:
        try:
            with open(stat) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False  # gone
        if state == "S":
            return True
        if state in ("Z", "X"):
            return False
        if deadline.expired():
            deadline.fail()
        os.sched_yield()


# --------------------------------------------------------------------------- pipes, FIFOs
def errno_name(exc: OSError) -> str:
    """``"EAGAIN"``, ``"EPIPE"``, ... for an OSError."""
    if exc.errno is None:
        return f"no errno ({exc})"
    return _CANONICAL.get(exc.errno) or errno.errorcode.get(exc.errno, str(exc.errno))


# Aliases that share a number: use the name the man pages use.
_CANONICAL = {errno.EDEADLK: "EDEADLK", errno.EAGAIN: "EAGAIN"}


def outcome(func: Callable[..., object], *args: object) -> str:
    """Call ``func(*args)``: ``"ok"`` if it returns, else the errno name of its OSError."""
    try:
        func(*args)
    except OSError as exc:
        return errno_name(exc)
    return "ok"


class PipeEnds:
    """The two ends of a pipe or FIFO. Close them with :meth:`close_read`/:meth:`close_write`
    (never ``os.close`` directly), so the creator does not close a reused number later."""

    def __init__(self, r: int, w: int) -> None:
        self.r = r
        self.w = w
        self._open = {r, w}

    def close_read(self) -> None:
        self._close(self.r)

    def close_write(self) -> None:
        self._close(self.w)

    def _close(self, fd: int) -> None:
        if fd in self._open:
            self._open.discard(fd)
            os.close(fd)

    def close(self) -> None:
        for fd in sorted(self._open):
            self._close(fd)

    def __iter__(self) -> Iterator[int]:
        return iter((self.r, self.w))


@dataclass(frozen=True)
class PipeCreator:
    """How to make a one-way byte channel: ``open()`` yields :class:`PipeEnds`.

    Properties that hold for pipes and FIFOs alike are parametrized over
    :data:`PIPE_CREATORS` (gVisor's PipeCreator idea); the body never knows which made them.
    """

    name: str
    open: Callable[[], contextlib.AbstractContextManager[PipeEnds]]
    named: bool

    def __str__(self) -> str:
        return self.name


@contextlib.contextmanager
def os_pipe() -> Iterator[PipeEnds]:
    """pipe(2) through ``os.pipe()`` (looked up at call time); both ends closed on exit."""
    r, w = os.pipe()
    ends = PipeEnds(r, w)
    try:
        yield ends
    finally:
        ends.close()


@contextlib.contextmanager
def fifo_pipe() -> Iterator[PipeEnds]:
    """A FIFO (mkfifo(3)) in a private directory opened at both ends.

    The read end is opened O_NONBLOCK first (so neither open blocks, fifo(7)) and then made
    blocking, so both ends behave like a pipe's. ``.path`` is not kept: the directory goes on
    exit.
    """
    with ipc_tmp_dir() as directory:
        path = str(directory / "fifo")
        os.mkfifo(path, 0o600)
        r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            w = os.open(path, os.O_WRONLY)
        except BaseException:
            os.close(r)
            raise
        os.set_blocking(r, True)
        ends = PipeEnds(r, w)
        try:
            yield ends
        finally:
            ends.close()


PIPE_CREATORS: tuple[PipeCreator, ...] = (
    PipeCreator("pipe", os_pipe, named=False),
    PipeCreator("fifo", fifo_pipe, named=True),
)


def fill_nonblocking(fd: int, chunk: int) -> int:
    """Write ``chunk``-byte blocks to ``fd`` (made non-blocking for the call) until EAGAIN;
    return the bytes written. With ``chunk`` <= PIPE_BUF each write is all or nothing."""
    was_blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)
    total = 0
    block = b"f" * chunk
    try:
        while True:
            try:
                total += os.write(fd, block)
            except BlockingIOError:
                return total
    finally:
        os.set_blocking(fd, was_blocking)


def reverse_direction(r: int, w: int) -> str:
    """Try the channel backwards: write(2) on the read end, then read(2) on the write end.

    ``"EBADF"`` when both fail so (one-way, pipe(2)); ``"bidirectional"`` when the byte
    written on the read end comes out of the write end (FreeBSD pipes); otherwise a summary.
    """
    try:
        os.write(r, b"<")
        wrote = "ok"
    except OSError as exc:
        wrote = errno_name(exc)
    was_blocking = os.get_blocking(w)
    os.set_blocking(w, False)
    try:
        got = os.read(w, 16)
        read = f"read {got!r}"
    except OSError as exc:
        got, read = b"", errno_name(exc)
    finally:
        os.set_blocking(w, was_blocking)
    if wrote == "EBADF" and read == "EBADF":
        return "EBADF"
    if wrote == "ok" and got == b"<":
        return "bidirectional"
    return f"write on read end: {wrote}; read on write end: {read}"


# --------------------------------------------------------------------------- shared memory
@contextlib.contextmanager
def shared_anon_mapping(size: int = mmap.PAGESIZE) -> Iterator[mmap.mmap]:
    """A MAP_SHARED|MAP_ANONYMOUS mapping of ``size`` bytes (zero-filled), shared with
    children forked while it exists (mmap(2)); unmapped on exit."""
    mapping = mmap.mmap(-1, size, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    try:
        yield mapping
    finally:
        mapping.close()


@dataclass
class PosixShm:
    """An open POSIX shared memory object: its ``name`` and read-write descriptor ``fd``."""

    name: str
    fd: int

    @property
    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def resize(self, size: int) -> None:
        """ftruncate(2) the object to ``size`` bytes (new bytes read as zero)."""
        os.ftruncate(self.fd, size)

    def map(self, length: int | None = None) -> mmap.mmap:
        """A MAP_SHARED read-write mapping (close it before the object's context ends)."""
        return mmap.mmap(self.fd, self.size if length is None else length, mmap.MAP_SHARED)


@contextlib.contextmanager
def posix_shm(size: int = 0, *, mode: int = 0o600) -> Iterator[PosixShm]:
    """A new POSIX shared memory object (shm_open(3) O_CREAT|O_EXCL|O_RDWR) of ``size`` bytes
    with a unique name; on exit the descriptor is closed and the name shm_unlink()ed."""
    name = unique_name()
    fd = posix_ipc.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode)
    try:
        if size:
            os.ftruncate(fd, size)
        yield PosixShm(name, fd)
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            posix_ipc.shm_unlink(name)


@dataclass
class SysVShmSegment:
    """A System V shared memory segment: ``id``, ``size`` and the attached ``address``."""

    id: int
    size: int
    address: int


@contextlib.contextmanager
def sysv_shm_segment(size: int = mmap.PAGESIZE, *, mode: int = 0o600) -> Iterator[SysVShmSegment]:
    """A new IPC_PRIVATE System V segment (shmget(2)), attached (shmat(2)); on exit it is
    detached and removed (IPC_RMID), so ``ipcs -m`` shows nothing left."""
    shmid = posix_ipc.shmget(posix_ipc.IPC_PRIVATE, size, posix_ipc.IPC_CREAT | mode)
    try:
        address = posix_ipc.shmat(shmid)
        try:
            yield SysVShmSegment(shmid, size, address)
        finally:
            with contextlib.suppress(OSError):
                posix_ipc.shmdt(address)
    finally:
        with contextlib.suppress(OSError):
            posix_ipc.shmctl_rmid(shmid)


# --------------------------------------------------------------------------- synchronisation
@contextlib.contextmanager
def named_semaphore(value: int = 0, *, mode: int = 0o600) -> Iterator[NamedSemaphore]:
    """A new named POSIX semaphore (sem_open(3) O_CREAT|O_EXCL) holding ``value``, with a
    unique ``.name``; on exit it is closed and sem_unlink()ed (no /dev/shm/sem.* left)."""
    name = unique_name()
    sem = NamedSemaphore(name, os.O_CREAT | os.O_EXCL, mode, value)
    try:
        yield sem
    finally:
        with contextlib.suppress(OSError):
            sem.close()
        with contextlib.suppress(FileNotFoundError):
            posix_ipc.sem_unlink(name)


@contextlib.contextmanager
def unnamed_semaphore(
    mapping: mmap.mmap, offset: int = 0, value: int = 0, *, pshared: bool = True
) -> Iterator[UnnamedSemaphore]:
    """sem_init(3) a semaphore at ``offset`` of ``mapping`` (reserve posix_ipc.SEM_T_SIZE
    bytes); sem_destroy(3) on exit. With a shared mapping and ``pshared`` it works across
    fork()."""
    sem = UnnamedSemaphore.init(posix_ipc.mapping_address(mapping, offset), value, pshared=pshared)
    try:
        yield sem
    finally:
        with contextlib.suppress(OSError):
            sem.destroy()


@contextlib.contextmanager
def pshared_mutex(
    mapping: mmap.mmap,
    offset: int = 0,
    *,
    robust: bool = False,
    kind: int = posix_ipc.PTHREAD_MUTEX_NORMAL,
) -> Iterator[PsharedMutex]:
    """A PTHREAD_PROCESS_SHARED mutex at ``offset`` of ``mapping`` (reserve
    posix_ipc.MUTEX_T_SIZE bytes), optionally robust; pthread_mutex_destroy(3) on exit."""
    mutex = PsharedMutex.init(posix_ipc.mapping_address(mapping, offset), robust=robust, kind=kind)
    try:
        yield mutex
    finally:
        with contextlib.suppress(OSError):
            mutex.destroy()


@contextlib.contextmanager
def sysv_semaphore_set(nsems: int = 1, *, mode: int = 0o600) -> Iterator[int]:
    """A new IPC_PRIVATE System V semaphore set (semget(2)); its id. Removed (IPC_RMID) on
    exit, so ``ipcs -s`` shows nothing left."""
    semid = posix_ipc.semget(posix_ipc.IPC_PRIVATE, nsems, posix_ipc.IPC_CREAT | mode)
    try:
        yield semid
    finally:
        with contextlib.suppress(OSError):
            posix_ipc.semctl_rmid(semid)


# --------------------------------------------------------------------------- message queues
@functools.cache
def mqueue_unavailable() -> str | None:
    """Why POSIX message queues cannot be used here, or None when they can.

    macOS has no mq_open in its C library; a Linux kernel built without CONFIG_POSIX_MQUEUE
    (or a sandbox) gives ENOSYS.
    """
    try:
        queue = MessageQueue(unique_name("uxipc-probe"), os.O_CREAT | os.O_EXCL | os.O_RDWR)
    except posix_ipc.Unsupported as exc:
        return f"no POSIX message queues: {exc.strerror}"
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return f"no POSIX message queues: mq_open gives {errno.errorcode[exc.errno]}"
        raise
    queue.close()
    posix_ipc.mq_unlink(queue.name)
    return None


@functools.cache
def sysv_unavailable() -> str | None:
    """Why System V IPC cannot be used here (ENOSYS, e.g. a sandbox), or None when it can."""
    try:
        msqid = posix_ipc.msgget(posix_ipc.IPC_PRIVATE, posix_ipc.IPC_CREAT | 0o600)
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EPERM):
            return f"no System V IPC: msgget gives {errno.errorcode[exc.errno]}"
        raise
    posix_ipc.msgctl_rmid(msqid)
    return None


@contextlib.contextmanager
def posix_mqueue(
    *, maxmsg: int = 0, msgsize: int = 0, flags: int = os.O_RDWR, mode: int = 0o600
) -> Iterator[MessageQueue]:
    """A new POSIX message queue (mq_open(3) O_CREAT|O_EXCL) with a unique ``.name``; 0 for
    ``maxmsg`` and ``msgsize`` means the system defaults. On exit it is closed and
    mq_unlink()ed. Raises posix_ipc.Unsupported where there are no POSIX message queues."""
    queue = MessageQueue(
        unique_name(), flags | os.O_CREAT | os.O_EXCL, mode, maxmsg=maxmsg, msgsize=msgsize
    )
    try:
        yield queue
    finally:
        with contextlib.suppress(OSError):
            queue.close()
        with contextlib.suppress(FileNotFoundError):
            posix_ipc.mq_unlink(queue.name)


@dataclass
class SysVMessageQueue:
    """A System V message queue: its ``id`` and msgsnd(2)/msgrcv(2) shorthands."""

    id: int

    def send(self, mtype: int, data: bytes, flags: int = 0) -> None:
        posix_ipc.msgsnd(self.id, mtype, data, flags)

    def receive(self, bufsize: int = 8192, mtype: int = 0, flags: int = 0) -> tuple[int, bytes]:
        """``(type, data)``; add posix_ipc.IPC_NOWAIT to ``flags`` for ENOMSG when empty."""
        return posix_ipc.msgrcv(self.id, bufsize, mtype, flags)


@contextlib.contextmanager
def sysv_msgqueue(*, mode: int = 0o600) -> Iterator[SysVMessageQueue]:
    """A new IPC_PRIVATE System V message queue (msgget(2)); removed (IPC_RMID) on exit, so
    ``ipcs -q`` shows nothing left."""
    msqid = posix_ipc.msgget(posix_ipc.IPC_PRIVATE, posix_ipc.IPC_CREAT | mode)
    try:
        yield SysVMessageQueue(msqid)
    finally:
        with contextlib.suppress(OSError):
            posix_ipc.msgctl_rmid(msqid)
