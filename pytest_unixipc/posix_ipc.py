"""ctypes bindings for the IPC calls Python's standard library lacks.

Bound here: ``shm_open``/``shm_unlink`` (shm_open(3)), named and unnamed POSIX semaphores
(sem_overview(7), sem_open(3), sem_init(3), sem_timedwait(3)), process-shared and robust
pthread mutexes (pthread_mutexattr_setpshared(3), pthread_mutexattr_setrobust(3),
pthread_mutex_consistent(3)), POSIX message queues (mq_overview(7), mq_open(3), mq_send(3),
mq_receive(3), mq_notify(3)), and System V message queues, semaphore sets and shared memory
segments (sysvipc(7), msgget(2), msgop(2), semget(2), semop(2), shmget(2), shmop(2)).

Why ctypes and not the ``posix_ipc``/``sysv_ipc`` packages: those are C extensions, so a fresh
machine (a grading container, a student laptop without a compiler, a new CPython release
before wheels exist) may not be able to install them, and they wrap the calls in
higher-level objects that hide exactly the errno values and corner cases a conformance suite
must see (EEXIST, ETIMEDOUT, EMSGSIZE, EOWNERDEAD, ...). ctypes against the C library is in
every CPython, needs no build step, and exposes the raw calls. The price is that struct
layouts must be right; the few used here (``struct timespec``, ``struct mq_attr``,
``struct sigevent``, ``struct sembuf``, ``struct msgbuf``) are stable ABI, and opaque
``sem_t``/``pthread_mutex_t`` storage is over-reserved (:data:`SEM_T_SIZE`,
:data:`MUTEX_T_SIZE`).

Errors are raised as :class:`OSError` built from the errno, so Python maps them to its
subclasses (``EAGAIN`` -> :class:`BlockingIOError`, ``ETIMEDOUT`` -> :class:`TimeoutError`,
``EEXIST`` -> :class:`FileExistsError`, ...); ``.errno`` always holds the raw value. A call the C
library does not provide raises :class:`Unsupported` (an ``OSError`` with ``ENOSYS``), e.g.
``mq_open`` on macOS, so callers can report a missing facility instead of crashing.

Timeouts are relative seconds here; they are turned into the absolute ``CLOCK_REALTIME``
deadlines that ``sem_timedwait``/``mq_timedsend``/``pthread_mutex_timedlock`` take.
No pytest imports: this is mechanics usable from any script.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "IPC_CREAT",
    "IPC_EXCL",
    "IPC_NOWAIT",
    "IPC_PRIVATE",
    "MSG_EXCEPT",
    "MSG_NOERROR",
    "MUTEX_T_SIZE",
    "PTHREAD_MUTEX_ERRORCHECK",
    "PTHREAD_MUTEX_NORMAL",
    "SEM_T_SIZE",
    "SEM_UNDO",
    "MessageQueue",
    "MqAttr",
    "NamedSemaphore",
    "PsharedMutex",
    "UnnamedSemaphore",
    "Unsupported",
    "abs_deadline",
    "mapping_address",
    "mq_unlink",
    "msgctl_rmid",
    "msgget",
    "msgrcv",
    "msgsnd",
    "sem_unlink",
    "semctl_getncnt",
    "semctl_getval",
    "semctl_rmid",
    "semctl_setval",
    "semget",
    "semop",
    "shm_open",
    "shm_unlink",
    "shmat",
    "shmctl_rmid",
    "shmdt",
    "shmget",
]

LINUX = sys.platform.startswith("linux")
FREEBSD = sys.platform.startswith("freebsd")

# System V constants: the same values on Linux, the BSDs and macOS (sys/ipc.h, sys/msg.h).
IPC_PRIVATE = 0
IPC_CREAT = 0o1000
IPC_EXCL = 0o2000
IPC_NOWAIT = 0o4000
IPC_RMID = 0
MSG_NOERROR = 0o10000
#: Linux-only (msgrcv(2)): receive the first message whose type is *not* msgtyp.
MSG_EXCEPT = 0o20000
SEM_UNDO = 0x1000
_GETNCNT = 14 if LINUX else 3
_GETVAL = 12 if LINUX else 5
_SETVAL = 16 if LINUX else 8

#: Bytes to reserve for one ``sem_t`` in shared memory (glibc x86_64: 32; FreeBSD: 16).
SEM_T_SIZE = 64
#: Bytes to reserve for one ``pthread_mutex_t`` (glibc x86_64: 40, aarch64: 48; macOS: 64).
MUTEX_T_SIZE = 64
#: pthread.h mutex types: NORMAL 0 / ERRORCHECK 2 on Linux, 0 / 1 on macOS, 3 / 1 on FreeBSD.
PTHREAD_MUTEX_NORMAL = 3 if FREEBSD else 0
PTHREAD_MUTEX_ERRORCHECK = 2 if LINUX else 1
_PTHREAD_PROCESS_SHARED = 1
_PTHREAD_MUTEX_ROBUST = 1

# sigevent (mq_notify): SIGEV_SIGNAL is 0 on Linux, 1 on the BSDs and macOS.
_SIGEV_SIGNAL = 0 if LINUX else 1


class Unsupported(OSError):
    """The C library lacks this call (errno ENOSYS): the facility is missing on this platform."""

    def __init__(self, what: str) -> None:
        super().__init__(errno.ENOSYS, f"{what} is not available on {sys.platform}")


# --------------------------------------------------------------------------- loading
_LIBS: list[ctypes.CDLL] | None = None


def _libraries() -> list[ctypes.CDLL]:
    """libc first, then librt and libpthread (glibc < 2.34 keeps mq_*/sem_* there)."""
    global _LIBS
    if _LIBS is None:
        libs: list[ctypes.CDLL] = []
        for short in ("c", "rt", "pthread"):
            path = ctypes.util.find_library(short)
            if path is None and short == "c":
                path = None  # the running process's own symbols
            elif path is None:
                continue
            try:
                libs.append(ctypes.CDLL(path, use_errno=True))
            except OSError:  # pragma: no cover - a listed library that will not load
                continue
        _LIBS = libs
    return _LIBS


_FUNCS: dict[str, Any] = {}


def _fn(name: str, restype: Any, argtypes: Sequence[Any]) -> Any:
    """The C function ``name`` with its types set, or raise :class:`Unsupported`.

    For variadic C functions (sem_open, mq_open, semctl) ``argtypes`` lists only the fixed
    parameters; callers pass the variadic ones as ctypes instances, which ctypes then passes
    with the variadic calling convention (required on Apple arm64).
    """
    func = _FUNCS.get(name)
    if func is None:
        for lib in _libraries():
            try:
                func = getattr(lib, name)
            except AttributeError:
                continue
            func.restype = restype
            func.argtypes = list(argtypes)
            break
        else:
            raise Unsupported(name)
        _FUNCS[name] = func
    return func


def _raise_errno(what: str, err: int | None = None) -> None:
    code = ctypes.get_errno() if err is None else err
    raise OSError(code, f"{what}: {os.strerror(code)}")


def _check(ret: int, what: str) -> int:
    """Raise OSError from errno when a -1-style call failed; else return ``ret``."""
    if ret == -1:
        _raise_errno(what)
    return ret


def _check_pthread(ret: int, what: str) -> None:
    """pthread calls return the error number instead of setting errno."""
    if ret != 0:
        _raise_errno(what, ret)


def _name(name: str) -> bytes:
    return os.fsencode(name)


# --------------------------------------------------------------------------- time
class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


def abs_deadline(timeout: float) -> tuple[int, int]:
    """``(tv_sec, tv_nsec)`` of CLOCK_REALTIME now + ``timeout`` seconds, as the timed calls
    (sem_timedwait(3), mq_timedsend(3), pthread_mutex_timedlock(3)) want it."""
    ns = time.clock_gettime_ns(time.CLOCK_REALTIME) + int(max(timeout, 0.0) * 1e9)
    return ns // 1_000_000_000, ns % 1_000_000_000


def _timespec(deadline: tuple[int, int]) -> _Timespec:
    return _Timespec(deadline[0], deadline[1])


# --------------------------------------------------------------------------- shm_open
def shm_open(name: str, flags: int, mode: int = 0o600) -> int:
    """shm_open(3): a descriptor for the POSIX shared memory object ``name`` ("/x")."""
    f = _fn("shm_open", ctypes.c_int, (ctypes.c_char_p, ctypes.c_int, ctypes.c_uint))
    return _check(int(f(_name(name), flags, mode)), f"shm_open({name!r})")


def shm_unlink(name: str) -> None:
    """shm_unlink(3): remove the name; open descriptors and mappings stay valid."""
    f = _fn("shm_unlink", ctypes.c_int, (ctypes.c_char_p,))
    _check(int(f(_name(name))), f"shm_unlink({name!r})")


def mapping_address(buf: mmap.mmap, offset: int = 0) -> int:
    """The address of byte ``offset`` of an mmap object (for sem_init / pthread_mutex_init).

    The buffer export is released at once, so the mmap can still be closed; the address is
    valid until it is. After fork() the child's copy of the mapping has the same address.
    """
    if not 0 <= offset < len(buf):
        raise ValueError(f"offset {offset} outside a mapping of {len(buf)} bytes")
    cell = ctypes.c_char.from_buffer(buf, offset)
    try:
        return ctypes.addressof(cell)
    finally:
        del cell


# --------------------------------------------------------------------------- semaphores
def _sem_call(name: str, sem: int, what: str) -> None:
    f = _fn(name, ctypes.c_int, (ctypes.c_void_p,))
    _check(int(f(ctypes.c_void_p(sem))), what)


class _SemaphoreOps:
    """sem_post / sem_wait / sem_trywait / sem_timedwait / sem_getvalue on a ``sem_t *``."""

    _sem: int

    def post(self) -> None:
        """sem_post(3)."""
        _sem_call("sem_post", self._sem, "sem_post")

    def trywait(self) -> None:
        """sem_trywait(3): decrement or fail at once with EAGAIN (BlockingIOError)."""
        _sem_call("sem_trywait", self._sem, "sem_trywait")

    def wait(self, timeout: float | None) -> None:
        """sem_timedwait(3) with a deadline ``timeout`` s from now (ETIMEDOUT ->
        TimeoutError); ``None`` waits without bound (sem_wait(3)). EINTR is not retried."""
        if timeout is None:
            _sem_call("sem_wait", self._sem, "sem_wait")
        else:
            self.wait_until(abs_deadline(timeout))

    def wait_until(self, deadline: tuple[int, int]) -> None:
        """sem_timedwait(3) with an absolute CLOCK_REALTIME ``(tv_sec, tv_nsec)`` deadline."""
        f = _fn("sem_timedwait", ctypes.c_int, (ctypes.c_void_p, ctypes.POINTER(_Timespec)))
        ts = _timespec(deadline)
        _check(int(f(ctypes.c_void_p(self._sem), ctypes.byref(ts))), "sem_timedwait")

    @property
    def value(self) -> int:
        """sem_getvalue(3): the current count (Linux reports 0, never -waiters, when taken)."""
        f = _fn("sem_getvalue", ctypes.c_int, (ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)))
        out = ctypes.c_int(0)
        _check(int(f(ctypes.c_void_p(self._sem), ctypes.byref(out))), "sem_getvalue")
        return out.value


class NamedSemaphore(_SemaphoreOps):
    """A named POSIX semaphore (sem_open(3)); :meth:`close` it, :func:`sem_unlink` the name."""

    def __init__(self, name: str, flags: int = 0, mode: int = 0o600, value: int = 0) -> None:
        f = _fn("sem_open", ctypes.c_void_p, (ctypes.c_char_p, ctypes.c_int))
        if flags & os.O_CREAT:
            ptr = f(_name(name), flags, ctypes.c_uint(mode), ctypes.c_uint(value))
        else:
            ptr = f(_name(name), flags)
        # SEM_FAILED is (sem_t *)0 on glibc and FreeBSD, (sem_t *)-1 on macOS.
        if ptr is None or ptr in (0, ctypes.c_void_p(-1).value):
            _raise_errno(f"sem_open({name!r})")
        self.name = name
        self._sem = int(ptr)
        self.closed = False

    def close(self) -> None:
        """sem_close(3); idempotent."""
        if not self.closed:
            self.closed = True
            _sem_call("sem_close", self._sem, "sem_close")


def sem_unlink(name: str) -> None:
    """sem_unlink(3): remove the name; open handles keep working."""
    f = _fn("sem_unlink", ctypes.c_int, (ctypes.c_char_p,))
    _check(int(f(_name(name))), f"sem_unlink({name!r})")


class UnnamedSemaphore(_SemaphoreOps):
    """A ``sem_t`` at ``address`` (reserve :data:`SEM_T_SIZE` bytes), e.g. in a shared mapping.

    ``UnnamedSemaphore.init(address, value, pshared=True)`` runs sem_init(3); a forked child
    uses the same object (or ``UnnamedSemaphore(address)``) without initialising again.
    """

    def __init__(self, address: int) -> None:
        self._sem = address

    @classmethod
    def init(cls, address: int, value: int, *, pshared: bool = True) -> UnnamedSemaphore:
        f = _fn("sem_init", ctypes.c_int, (ctypes.c_void_p, ctypes.c_int, ctypes.c_uint))
        _check(int(f(ctypes.c_void_p(address), int(pshared), value)), "sem_init")
        return cls(address)

    def destroy(self) -> None:
        """sem_destroy(3)."""
        _sem_call("sem_destroy", self._sem, "sem_destroy")


# --------------------------------------------------------------------------- mutexes
class PsharedMutex:
    """A ``pthread_mutex_t`` at ``address`` (reserve :data:`MUTEX_T_SIZE` bytes).

    ``PsharedMutex.init(address, robust=..., kind=...)`` initialises it PTHREAD_PROCESS_SHARED
    (pthread_mutexattr_setpshared(3)); robust mutexes report an owner's death as EOWNERDEAD
    (pthread_mutexattr_setrobust(3)). Error numbers are raised as OSError.
    """

    def __init__(self, address: int) -> None:
        self._mutex = address

    @classmethod
    def init(
        cls, address: int, *, robust: bool = False, kind: int = PTHREAD_MUTEX_NORMAL
    ) -> PsharedMutex:
        vp = ctypes.c_void_p
        attr = ctypes.create_string_buffer(64)  # pthread_mutexattr_t is 4-8 bytes (or a pointer)
        _check_pthread(
            int(_fn("pthread_mutexattr_init", ctypes.c_int, (vp,))(attr)), "mutexattr_init"
        )
        try:
            set_pshared = _fn("pthread_mutexattr_setpshared", ctypes.c_int, (vp, ctypes.c_int))
            _check_pthread(int(set_pshared(attr, _PTHREAD_PROCESS_SHARED)), "setpshared")
            set_type = _fn("pthread_mutexattr_settype", ctypes.c_int, (vp, ctypes.c_int))
            _check_pthread(int(set_type(attr, kind)), "settype")
            if robust:
                set_robust = _fn("pthread_mutexattr_setrobust", ctypes.c_int, (vp, ctypes.c_int))
                _check_pthread(int(set_robust(attr, _PTHREAD_MUTEX_ROBUST)), "setrobust")
            init = _fn("pthread_mutex_init", ctypes.c_int, (vp, vp))
            _check_pthread(int(init(vp(address), attr)), "pthread_mutex_init")
        finally:
            _fn("pthread_mutexattr_destroy", ctypes.c_int, (vp,))(attr)
        return cls(address)

    def _call(self, name: str) -> None:
        f = _fn(name, ctypes.c_int, (ctypes.c_void_p,))
        _check_pthread(int(f(ctypes.c_void_p(self._mutex))), name)

    def lock(self, timeout: float) -> None:
        """pthread_mutex_timedlock(3) with a CLOCK_REALTIME deadline ``timeout`` s away:
        ETIMEDOUT -> TimeoutError; a robust mutex whose owner died -> OSError(EOWNERDEAD)
        (the caller then owns it and should call :meth:`consistent`)."""
        f = _fn(
            "pthread_mutex_timedlock",
            ctypes.c_int,
            (ctypes.c_void_p, ctypes.POINTER(_Timespec)),
        )
        ts = _timespec(abs_deadline(timeout))
        _check_pthread(int(f(ctypes.c_void_p(self._mutex), ctypes.byref(ts))), "timedlock")

    def trylock(self) -> None:
        """pthread_mutex_trylock(3): EBUSY when another thread or process holds it."""
        self._call("pthread_mutex_trylock")

    def unlock(self) -> None:
        """pthread_mutex_unlock(3) (EPERM for a non-owner of an error-checking mutex)."""
        self._call("pthread_mutex_unlock")

    def consistent(self) -> None:
        """pthread_mutex_consistent(3): repair a robust mutex after EOWNERDEAD."""
        self._call("pthread_mutex_consistent")

    def destroy(self) -> None:
        """pthread_mutex_destroy(3)."""
        self._call("pthread_mutex_destroy")


# --------------------------------------------------------------------------- POSIX mq
class _MqAttrStruct(ctypes.Structure):
    _fields_ = (
        ("mq_flags", ctypes.c_long),
        ("mq_maxmsg", ctypes.c_long),
        ("mq_msgsize", ctypes.c_long),
        ("mq_curmsgs", ctypes.c_long),
        ("_reserved", ctypes.c_long * 4),
    )


@dataclass(frozen=True)
class MqAttr:
    """``struct mq_attr`` (mq_getattr(3))."""

    flags: int
    maxmsg: int
    msgsize: int
    curmsgs: int


class _SigvalUnion(ctypes.Union):
    _fields_ = (("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p))


class _SigeventLinux(ctypes.Structure):
    _fields_ = (
        ("sigev_value", _SigvalUnion),
        ("sigev_signo", ctypes.c_int),
        ("sigev_notify", ctypes.c_int),
        ("_pad", ctypes.c_int * 12),
    )


class _SigeventBSD(ctypes.Structure):
    _fields_ = (
        ("sigev_notify", ctypes.c_int),
        ("sigev_signo", ctypes.c_int),
        ("sigev_value", _SigvalUnion),
        ("_pad", ctypes.c_long * 8),
    )


_Sigevent: type[ctypes.Structure] = _SigeventLinux if LINUX else _SigeventBSD
# mqd_t is an int (a descriptor) on Linux, a pointer on FreeBSD.
_MQD: Any = ctypes.c_int if LINUX else ctypes.c_void_p


class MessageQueue:
    """A POSIX message queue descriptor (mq_open(3)); :meth:`close` it, :func:`mq_unlink` it.

    ``maxmsg``/``msgsize`` are used with O_CREAT; both 0 means "attr = NULL" (the defaults,
    on Linux /proc/sys/fs/mqueue/msg_default and msgsize_default).
    """

    def __init__(
        self, name: str, flags: int, mode: int = 0o600, *, maxmsg: int = 0, msgsize: int = 0
    ) -> None:
        f = _fn("mq_open", _MQD, (ctypes.c_char_p, ctypes.c_int))
        if flags & os.O_CREAT:
            attr = None
            if maxmsg or msgsize:
                attr = _MqAttrStruct(0, maxmsg, msgsize, 0)
            ptr = ctypes.byref(attr) if attr is not None else None
            mqd = f(_name(name), flags, ctypes.c_uint(mode), ptr)
        else:
            mqd = f(_name(name), flags)
        if mqd is None or mqd in (-1, ctypes.c_void_p(-1).value):
            _raise_errno(f"mq_open({name!r})")
        self.name = name
        self._mqd: int = int(mqd)
        self.closed = False

    def fileno(self) -> int:
        """The descriptor (Linux: an mqd_t is a pollable file descriptor, mq_overview(7))."""
        if not LINUX:
            raise Unsupported("mqd_t as a file descriptor")
        return self._mqd

    def _h(self) -> Any:
        return _MQD(self._mqd)

    def send(self, data: bytes, prio: int = 0, timeout: float | None = None) -> None:
        """mq_send(3), or mq_timedsend(3) when ``timeout`` is given (ETIMEDOUT when full)."""
        if timeout is None:
            f = _fn(
                "mq_send", ctypes.c_int, (_MQD, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint)
            )
            _check(int(f(self._h(), data, len(data), prio)), "mq_send")
        else:
            f = _fn(
                "mq_timedsend",
                ctypes.c_int,
                (_MQD, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.POINTER(_Timespec)),
            )
            ts = _timespec(abs_deadline(timeout))
            _check(int(f(self._h(), data, len(data), prio, ctypes.byref(ts))), "mq_timedsend")

    def receive(
        self, bufsize: int | None = None, timeout: float | None = None
    ) -> tuple[bytes, int]:
        """mq_receive(3) / mq_timedreceive(3): ``(message, priority)``, highest priority first.

        ``bufsize`` defaults to the queue's mq_msgsize; a smaller one fails with EMSGSIZE.
        """
        size = self.getattr().msgsize if bufsize is None else bufsize
        buf = ctypes.create_string_buffer(max(size, 1))
        prio = ctypes.c_uint(0)
        if timeout is None:
            f = _fn(
                "mq_receive",
                ctypes.c_ssize_t,
                (_MQD, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_uint)),
            )
            n = int(f(self._h(), buf, size, ctypes.byref(prio)))
        else:
            f = _fn(
                "mq_timedreceive",
                ctypes.c_ssize_t,
                (
                    _MQD,
                    ctypes.c_char_p,
                    ctypes.c_size_t,
                    ctypes.POINTER(ctypes.c_uint),
                    ctypes.POINTER(_Timespec),
                ),
            )
            ts = _timespec(abs_deadline(timeout))
            n = int(f(self._h(), buf, size, ctypes.byref(prio), ctypes.byref(ts)))
        _check(n, "mq_receive")
        return buf.raw[:n], prio.value

    def getattr(self) -> MqAttr:
        """mq_getattr(3)."""
        f = _fn("mq_getattr", ctypes.c_int, (_MQD, ctypes.POINTER(_MqAttrStruct)))
        a = _MqAttrStruct()
        _check(int(f(self._h(), ctypes.byref(a))), "mq_getattr")
        return MqAttr(int(a.mq_flags), int(a.mq_maxmsg), int(a.mq_msgsize), int(a.mq_curmsgs))

    def setattr(self, flags: int) -> MqAttr:
        """mq_setattr(3) with mq_flags = ``flags`` (only O_NONBLOCK counts); the old attrs."""
        f = _fn(
            "mq_setattr",
            ctypes.c_int,
            (_MQD, ctypes.POINTER(_MqAttrStruct), ctypes.POINTER(_MqAttrStruct)),
        )
        new, old = _MqAttrStruct(flags, 0, 0, 0), _MqAttrStruct()
        _check(int(f(self._h(), ctypes.byref(new), ctypes.byref(old))), "mq_setattr")
        return MqAttr(
            int(old.mq_flags), int(old.mq_maxmsg), int(old.mq_msgsize), int(old.mq_curmsgs)
        )

    def notify(self, signo: int | None) -> None:
        """mq_notify(3): deliver ``signo`` (SIGEV_SIGNAL) when the queue goes from empty to
        non-empty; ``None`` removes this process's registration. EBUSY if another is set."""
        f = _fn("mq_notify", ctypes.c_int, (_MQD, ctypes.c_void_p))
        if signo is None:
            _check(int(f(self._h(), None)), "mq_notify")
            return
        ev = _Sigevent()
        ev.sigev_notify = _SIGEV_SIGNAL
        ev.sigev_signo = int(signal.Signals(signo))
        _check(int(f(self._h(), ctypes.addressof(ev))), "mq_notify")

    def close(self) -> None:
        """mq_close(3); idempotent."""
        if not self.closed:
            self.closed = True
            f = _fn("mq_close", ctypes.c_int, (_MQD,))
            _check(int(f(self._h())), "mq_close")


def mq_unlink(name: str) -> None:
    """mq_unlink(3): remove the name; the queue lives until its last descriptor closes."""
    f = _fn("mq_unlink", ctypes.c_int, (ctypes.c_char_p,))
    _check(int(f(_name(name))), f"mq_unlink({name!r})")


# --------------------------------------------------------------------------- System V msg
def msgget(key: int, flags: int) -> int:
    """msgget(2): a message queue identifier (IPC_PRIVATE always makes a new queue)."""
    f = _fn("msgget", ctypes.c_int, (ctypes.c_int, ctypes.c_int))
    return _check(int(f(key, flags)), "msgget")


def msgsnd(msqid: int, mtype: int, data: bytes, flags: int = 0) -> None:
    """msgsnd(2) of one message of type ``mtype`` (> 0)."""
    f = _fn("msgsnd", ctypes.c_int, (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int))
    hdr = ctypes.sizeof(ctypes.c_long)
    buf = ctypes.create_string_buffer(hdr + len(data))
    ctypes.c_long.from_buffer(buf).value = mtype
    ctypes.memmove(ctypes.addressof(buf) + hdr, data, len(data))
    _check(int(f(msqid, buf, len(data), flags)), "msgsnd")


def msgrcv(msqid: int, bufsize: int, mtype: int = 0, flags: int = 0) -> tuple[int, bytes]:
    """msgrcv(2): ``(type, data)``. ``mtype`` 0 = first message, > 0 = first of that type,
    < 0 = first of the lowest type <= |mtype|."""
    f = _fn(
        "msgrcv",
        ctypes.c_ssize_t,
        (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long, ctypes.c_int),
    )
    hdr = ctypes.sizeof(ctypes.c_long)
    buf = ctypes.create_string_buffer(hdr + max(bufsize, 1))
    n = _check(int(f(msqid, buf, bufsize, mtype, flags)), "msgrcv")
    return int(ctypes.c_long.from_buffer(buf).value), buf.raw[hdr : hdr + n]


def msgctl_rmid(msqid: int) -> None:
    """msgctl(2) IPC_RMID: remove the queue at once, waking blocked callers with EIDRM."""
    f = _fn("msgctl", ctypes.c_int, (ctypes.c_int, ctypes.c_int, ctypes.c_void_p))
    _check(int(f(msqid, IPC_RMID, None)), "msgctl(IPC_RMID)")


# --------------------------------------------------------------------------- System V sem
class _Sembuf(ctypes.Structure):
    _fields_ = (
        ("sem_num", ctypes.c_ushort),
        ("sem_op", ctypes.c_short),
        ("sem_flg", ctypes.c_short),
    )


def semget(key: int, nsems: int, flags: int) -> int:
    """semget(2): a semaphore set identifier."""
    f = _fn("semget", ctypes.c_int, (ctypes.c_int, ctypes.c_int, ctypes.c_int))
    return _check(int(f(key, nsems, flags)), "semget")


def semop(semid: int, ops: Sequence[tuple[int, int, int]], timeout: float | None = None) -> None:
    """semop(2) (or Linux semtimedop(2), EAGAIN on timeout) with ``(num, op, flags)`` ops."""
    arr = (_Sembuf * len(ops))(*(_Sembuf(n, o, fl) for n, o, fl in ops))
    if timeout is None:
        f = _fn("semop", ctypes.c_int, (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t))
        _check(int(f(semid, arr, len(ops))), "semop")
    else:
        f = _fn(
            "semtimedop",
            ctypes.c_int,
            (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(_Timespec)),
        )
        rel = int(max(timeout, 0.0) * 1e9)
        ts = _Timespec(rel // 1_000_000_000, rel % 1_000_000_000)  # semtimedop is relative
        _check(int(f(semid, arr, len(ops), ctypes.byref(ts))), "semtimedop")


def _semctl(semid: int, num: int, cmd: int, *arg: Any) -> int:
    f = _fn("semctl", ctypes.c_int, (ctypes.c_int, ctypes.c_int, ctypes.c_int))
    return _check(int(f(semid, num, cmd, *arg)), f"semctl(cmd={cmd})")


def semctl_getval(semid: int, num: int) -> int:
    """semctl(2) GETVAL."""
    return _semctl(semid, num, _GETVAL)


def semctl_setval(semid: int, num: int, value: int) -> None:
    """semctl(2) SETVAL (union semun passed by value: its int member)."""
    _semctl(semid, num, _SETVAL, ctypes.c_long(value))


def semctl_getncnt(semid: int, num: int) -> int:
    """semctl(2) GETNCNT: how many processes wait for the value to increase."""
    return _semctl(semid, num, _GETNCNT)


def semctl_rmid(semid: int) -> None:
    """semctl(2) IPC_RMID: remove the set at once; waiters wake with EIDRM."""
    _semctl(semid, 0, IPC_RMID)


# --------------------------------------------------------------------------- System V shm
def shmget(key: int, size: int, flags: int) -> int:
    """shmget(2): a shared memory segment identifier."""
    f = _fn("shmget", ctypes.c_int, (ctypes.c_int, ctypes.c_size_t, ctypes.c_int))
    return _check(int(f(key, size, flags)), "shmget")


_SHM_RDONLY = 0o10000


def shmat(shmid: int, *, readonly: bool = False) -> int:
    """shmat(2): attach the segment; its address (read/write it with ctypes.memmove)."""
    f = _fn("shmat", ctypes.c_void_p, (ctypes.c_int, ctypes.c_void_p, ctypes.c_int))
    addr = f(shmid, None, _SHM_RDONLY if readonly else 0)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        _raise_errno("shmat")
    return int(addr)


def shmdt(address: int) -> None:
    """shmdt(2)."""
    f = _fn("shmdt", ctypes.c_int, (ctypes.c_void_p,))
    _check(int(f(ctypes.c_void_p(address))), "shmdt")


def shmctl_rmid(shmid: int) -> None:
    """shmctl(2) IPC_RMID: destroy the segment after the last detach."""
    f = _fn("shmctl", ctypes.c_int, (ctypes.c_int, ctypes.c_int, ctypes.c_void_p))
    _check(int(f(shmid, IPC_RMID, None)), "shmctl(IPC_RMID)")
