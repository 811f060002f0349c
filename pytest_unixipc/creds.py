"""Credentials, ancillary data and raw addresses for AF_UNIX sockets.

Helpers for what the standard library leaves out or hides:

* ``struct ucred`` (unix(7) ``SO_PEERCRED``, ``SCM_CREDENTIALS``) packing and parsing, and the
  BSD/macOS ``LOCAL_PEERCRED`` ``struct xucred`` equivalent;
* parsing ``recvmsg()`` ancillary data into descriptors and credentials (cmsg(3)), keeping
  ``MSG_CTRUNC`` visible;
* ``bind()``/``connect()`` with a *raw* ``sockaddr_un`` through ctypes, because CPython refuses
  a ``sun_path`` that fills the whole array (it wants room for a NUL), while Linux accepts a
  108-byte path without a terminating NUL (unix(7): "the abstract socket ... or a pathname that
  fills sun_path");
* dropping privileges in a forked child (setresgid(2), setresuid(2)) and counting open
  descriptors.

No pytest imports: usable from any script.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import itertools
import os
import pwd
import secrets
import socket
import struct
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple

from pytest_unixipc.kinds import socket_type

__all__ = [
    "SCM_CREDENTIALS",
    "SOCKADDR_UN_SIZE",
    "SO_PASSCRED",
    "SO_PEERCRED",
    "SO_PEERPIDFD",
    "SUN_PATH_OFFSET",
    "SUN_PATH_SIZE",
    "FdSet",
    "Received",
    "SocketSet",
    "Ucred",
    "abstract_name",
    "credentials_cmsg",
    "drop_privileges",
    "errno_name",
    "fd_is_open",
    "open_fd_count",
    "other_user_ids",
    "outcome",
    "pack_ucred",
    "peer_credentials",
    "raw_bind",
    "raw_connect",
    "recv_ancillary",
    "rights_cmsg",
    "same_open_file",
    "sockaddr_un",
    "unpack_ucred",
    "unshare_network_namespace",
]

IS_LINUX = sys.platform.startswith("linux")
_BSD_LAYOUT = sys.platform == "darwin" or "bsd" in sys.platform

#: Linux option numbers (asm-generic/socket.h); the socket module lacks some of them.  Elsewhere
#: they are -1, which setsockopt()/getsockopt()/sendmsg() reject, so a caller observes an error
#: instead of silently setting an unrelated BSD option that happens to have the same number.
SO_PASSCRED: int = getattr(socket, "SO_PASSCRED", 16 if IS_LINUX else -1)
SO_PEERCRED: int = getattr(socket, "SO_PEERCRED", 17 if IS_LINUX else -1)
SCM_CREDENTIALS: int = getattr(socket, "SCM_CREDENTIALS", 2 if IS_LINUX else -1)
SO_PEERPIDFD: int = getattr(socket, "SO_PEERPIDFD", 77 if IS_LINUX else -1)

#: ``sizeof(sun_path)`` and ``offsetof(struct sockaddr_un, sun_path)``: Linux has a 16-bit
#: ``sun_family``; the BSDs and macOS have ``sun_len`` and an 8-bit ``sun_family``.
SUN_PATH_SIZE: int = 104 if _BSD_LAYOUT else 108
SUN_PATH_OFFSET: int = 2
SOCKADDR_UN_SIZE: int = SUN_PATH_OFFSET + SUN_PATH_SIZE

_UCRED = struct.Struct("iii")  # struct ucred { pid_t pid; uid_t uid; gid_t gid; }
_INT = array.array("i").itemsize


class Ucred(NamedTuple):
    """``struct ucred`` (unix(7)). An unset uid or gid reads as -1."""

    pid: int
    uid: int
    gid: int


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= (1 << 31) else value


def pack_ucred(pid: int, uid: int, gid: int) -> bytes:
    """The bytes of a ``struct ucred`` (uid/gid -1 or 2**32-1 both mean "unset")."""
    return _UCRED.pack(_signed32(pid), _signed32(uid), _signed32(gid))


def unpack_ucred(data: bytes) -> Ucred:
    """Parse a ``struct ucred``; ValueError if ``data`` is shorter than one."""
    if len(data) < _UCRED.size:
        raise ValueError(f"struct ucred needs {_UCRED.size} bytes, got {len(data)}")
    pid, uid, gid = _UCRED.unpack_from(data)
    return Ucred(pid, uid, gid)


def credentials_cmsg(pid: int, uid: int, gid: int) -> tuple[int, int, bytes]:
    """An ``SCM_CREDENTIALS`` control message for ``sendmsg()`` (Linux, unix(7))."""
    return (socket.SOL_SOCKET, SCM_CREDENTIALS, pack_ucred(pid, uid, gid))


def rights_cmsg(fds: Iterable[int]) -> tuple[int, int, bytes]:
    """An ``SCM_RIGHTS`` control message carrying ``fds`` (unix(7), cmsg(3))."""
    return (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", list(fds)).tobytes())


def _xucred(data: bytes) -> tuple[int, int, int]:
    """(uid, gid, pid or -1) from a BSD/macOS ``struct xucred`` (unix(4), getpeereid(3))."""
    _version, uid, _ngroups = struct.unpack_from("IIh", data)
    (gid,) = struct.unpack_from("I", data, 12)
    pid = struct.unpack_from("i", data, 80)[0] if len(data) >= 84 else -1
    return uid, gid, pid


def peer_credentials(sock: socket.socket) -> Ucred:
    """The peer's credentials: ``SO_PEERCRED`` on Linux (unix(7), socket(7)).

    On macOS and the BSDs ``LOCAL_PEERCRED`` (level 0) gives uid and gid; the pid comes from
    ``LOCAL_PEERPID`` on macOS and from ``cr_pid`` on FreeBSD, else it is -1.  (The BSD branch
    follows unix(4); it is not exercised on Linux.)
    """
    if IS_LINUX:
        return unpack_ucred(sock.getsockopt(socket.SOL_SOCKET, SO_PEERCRED, _UCRED.size))
    local_peercred, local_peerpid = 1, 2
    uid, gid, pid = _xucred(sock.getsockopt(0, local_peercred, 96))
    if sys.platform == "darwin":
        with contextlib.suppress(OSError):
            pid = sock.getsockopt(0, local_peerpid)
    return Ucred(pid, _signed32(uid), _signed32(gid))


@dataclass
class Received:
    """What one ``recvmsg()`` returned, with the ancillary data parsed (cmsg(3))."""

    data: bytes
    fds: list[int] = field(default_factory=list)
    creds: list[Ucred] = field(default_factory=list)
    msg_flags: int = 0
    address: Any = None
    cmsg_count: int = 0

    @property
    def ctrunc(self) -> bool:
        """``MSG_CTRUNC``: some control data was discarded for lack of buffer space."""
        return bool(self.msg_flags & socket.MSG_CTRUNC)

    def close_fds(self) -> None:
        """Close every received descriptor (idempotent)."""
        while self.fds:
            with contextlib.suppress(OSError):
                os.close(self.fds.pop())


def _parse_ancillary(ancdata: Sequence[tuple[int, int, bytes]], received: Received) -> None:
    for level, kind, data in ancdata:
        received.cmsg_count += 1
        if level != socket.SOL_SOCKET:
            continue
        if kind == socket.SCM_RIGHTS:
            whole = len(data) - len(data) % _INT
            received.fds.extend(array.array("i", data[:whole]))
        elif IS_LINUX and kind == SCM_CREDENTIALS and len(data) >= _UCRED.size:
            received.creds.append(unpack_ucred(data))


def recv_ancillary(
    sock: socket.socket,
    bufsize: int = 4096,
    *,
    maxfds: int = 0,
    creds: int = 0,
    ancbufsize: int | None = None,
    flags: int = 0,
) -> Received:
    """``recvmsg()`` with room for ``maxfds`` descriptors and ``creds`` credential messages.

    ``ancbufsize`` overrides the computed control-buffer size (e.g. to provoke MSG_CTRUNC).
    Every descriptor that arrives is in ``.fds``; the caller owns and must close them.
    """
    if ancbufsize is None:
        ancbufsize = 0
        if maxfds:
            ancbufsize += socket.CMSG_SPACE(maxfds * _INT)
        if creds:
            ancbufsize += creds * socket.CMSG_SPACE(_UCRED.size)
    data, ancdata, msg_flags, address = sock.recvmsg(bufsize, ancbufsize, flags)
    received = Received(data, msg_flags=msg_flags, address=address)
    try:
        _parse_ancillary(ancdata, received)
    except BaseException:
        received.close_fds()
        raise
    return received


def sockaddr_un(path: bytes, addrlen: int | None = None) -> tuple[ctypes.Array[ctypes.c_char], int]:
    """A raw ``struct sockaddr_un`` holding ``path`` (no NUL added) and its length.

    ``addrlen`` defaults to ``offsetof(sun_path) + len(path)``; a larger value up to
    ``sizeof(struct sockaddr_un) + 1`` is allowed so callers can probe the kernel's checks.
    """
    if len(path) > SUN_PATH_SIZE + 1:
        raise ValueError(f"{len(path)} bytes do not fit even one past sun_path[{SUN_PATH_SIZE}]")
    buf = ctypes.create_string_buffer(SOCKADDR_UN_SIZE + 2)
    length = SUN_PATH_OFFSET + len(path) if addrlen is None else addrlen
    if _BSD_LAYOUT:
        struct.pack_into("BB", buf, 0, min(length, 255), socket.AF_UNIX)
    else:
        struct.pack_into("H", buf, 0, socket.AF_UNIX)
    ctypes.memmove(ctypes.addressof(buf) + SUN_PATH_OFFSET, path, len(path))
    return buf, length


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True)


_LIBC: Any = None


def _call(fn_name: str, sock: socket.socket, path: bytes, addrlen: int | None) -> None:
    global _LIBC
    if _LIBC is None:
        _LIBC = _libc()
    buf, length = sockaddr_un(path, addrlen)
    fn = getattr(_LIBC, fn_name)
    fn.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32)
    fn.restype = ctypes.c_int
    if fn(sock.fileno(), ctypes.addressof(buf), length) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{fn_name}(): {os.strerror(err)}", path)


def raw_bind(sock: socket.socket, path: bytes, addrlen: int | None = None) -> None:
    """``bind()`` through libc with a raw ``sockaddr_un`` (see :func:`sockaddr_un`).

    Raises OSError with the kernel's errno, unlike CPython's own length check, which raises
    an OSError without errno ("AF_UNIX path too long") before the kernel is asked.
    """
    _call("bind", sock, path, addrlen)


def raw_connect(sock: socket.socket, path: bytes, addrlen: int | None = None) -> None:
    """``connect()`` through libc with a raw ``sockaddr_un``; blocking as the socket is."""
    _call("connect", sock, path, addrlen)


_CLONE_NEWNET = 0x40000000


def unshare_network_namespace() -> None:
    """Move this process into a new network namespace (Linux unshare(2) CLONE_NEWNET).

    Needs CAP_SYS_ADMIN; only for a forked child.  Raises OSError (ENOSYS off Linux).
    """
    if not IS_LINUX:
        raise OSError(errno.ENOSYS, "network namespaces are Linux-only")
    global _LIBC
    if _LIBC is None:
        _LIBC = _libc()
    if _LIBC.unshare(_CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")


def other_user_ids() -> tuple[int, int]:
    """(uid, gid) of an unprivileged account other than root: ``nobody``, else 65534."""
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return 65534, 65534
    return entry.pw_uid, entry.pw_gid


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good (real, effective and saved ids; no supplementary groups).

    Only for a forked child: the change cannot be undone (setresuid(2), setgroups(2)).
    """
    os.setgroups([])
    if hasattr(os, "setresgid"):
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    else:  # macOS: setgid/setuid as root set all three ids
        os.setgid(gid)
        os.setuid(uid)
    if os.geteuid() != uid or os.getegid() != gid:
        raise OSError(errno.EPERM, f"still running as uid {os.geteuid()} gid {os.getegid()}")


def _fd_dir() -> str:
    return "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"


def open_fd_count() -> int:
    """How many descriptors this process has open (compare two counts, not absolute values)."""
    return len(os.listdir(_fd_dir()))


def fd_is_open(fd: int) -> bool:
    """Whether ``fd`` is an open descriptor of this process (fcntl(2) F_GETFD)."""
    try:
        fcntl.fcntl(fd, fcntl.F_GETFD)
    except OSError as exc:
        if exc.errno == errno.EBADF:
            return False
        raise
    return True


def same_open_file(fd_a: int, fd_b: int) -> bool:
    """Whether two descriptors refer to the same file (same st_dev and st_ino, fstat(2))."""
    a, b = os.fstat(fd_a), os.fstat(fd_b)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


_ERRNO_ALIASES = {errno.EOPNOTSUPP: "EOPNOTSUPP", errno.EAGAIN: "EAGAIN"}


def errno_name(err: int | OSError | None) -> str:
    """The symbolic name of an errno ("EADDRINUSE"), one name per value.

    EOPNOTSUPP/ENOTSUP and EAGAIN/EWOULDBLOCK share values on Linux; the POSIX socket names
    EOPNOTSUPP and EAGAIN are used.  An OSError without errno gives "no errno".
    """
    if isinstance(err, OSError):
        err = err.errno
    if err is None:
        return "no errno"
    return _ERRNO_ALIASES.get(err) or errno.errorcode.get(err, f"errno {err}")


def outcome(func: Callable[..., object], *args: object) -> str:
    """Call ``func(*args)``: "ok" if it returns, else the errno name of the OSError it raised."""
    try:
        func(*args)
    except OSError as exc:
        return errno_name(exc)
    return "ok"


_ABSTRACT_COUNTER = itertools.count()


def abstract_name(tag: str = "") -> bytes:
    """A fresh Linux abstract socket name: a NUL byte, then text unique to this process."""
    unique = f"uxipc-{os.getpid()}-{secrets.token_hex(3)}-{next(_ABSTRACT_COUNTER)}"
    return b"\0" + (unique + (f"-{tag}" if tag else "")).encode()


Address = str | bytes


class SocketSet:
    """AF_UNIX sockets made for one test, closed together on exit.

    Socket files that :meth:`bind` created (pathnames, not abstract names) and paths passed to
    :meth:`remove_later` are unlinked on exit, so a test leaves nothing behind even when it
    fails halfway.
    """

    def __init__(self) -> None:
        self._socks: list[socket.socket] = []
        self._paths: list[str | bytes] = []

    def __enter__(self) -> SocketSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def adopt(self, sock: socket.socket) -> socket.socket:
        """Close ``sock`` with the rest (e.g. a socket returned by accept())."""
        self._socks.append(sock)
        return sock

    def new(self, kind: str = "stream", *, nonblocking: bool = False) -> socket.socket:
        """An unbound AF_UNIX socket of ``kind`` ("stream", "dgram", "seqpacket")."""
        sock = self.adopt(socket.socket(socket.AF_UNIX, socket_type(kind)))
        if nonblocking:
            sock.setblocking(False)
        return sock

    def remove_later(self, path: str | bytes) -> None:
        """Unlink ``path`` (if it still exists) on exit."""
        self._paths.append(path)

    def bind(self, sock: socket.socket, address: Address) -> socket.socket:
        """``sock.bind(address)``; a pathname is unlinked on exit (abstract names vanish alone)."""
        if address and address[0] not in (0, "\0"):
            self.remove_later(address)
        sock.bind(address)
        return sock

    def bound(self, address: Address, kind: str = "stream") -> socket.socket:
        """A new socket of ``kind`` bound at ``address``."""
        return self.bind(self.new(kind), address)

    def listening(self, address: Address, kind: str = "stream", backlog: int = 8) -> socket.socket:
        """A new socket of ``kind`` bound at ``address`` and listening."""
        sock = self.bound(address, kind)
        sock.listen(backlog)
        return sock

    def connected(
        self, address: Address, kind: str = "stream", *, nonblocking: bool = False
    ) -> socket.socket:
        """A new socket of ``kind`` connected to ``address``."""
        sock = self.new(kind, nonblocking=nonblocking)
        sock.connect(address)
        return sock

    def accept(self, listener: socket.socket) -> socket.socket:
        """``listener.accept()``; the new socket is closed with the rest."""
        conn, _ = listener.accept()
        return self.adopt(conn)

    def close(self) -> None:
        """Close every socket, then unlink the recorded paths."""
        while self._socks:
            self._socks.pop().close()
        while self._paths:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                os.unlink(self._paths.pop())


class FdSet:
    """Descriptors owned by one test, closed on exit unless the test closed them already.

    Unlike closing a remembered number "if still open", this never closes a number that was
    closed and then reused by someone else: :meth:`close` forgets the number at once.
    """

    def __init__(self) -> None:
        self._fds: set[int] = set()

    def __enter__(self) -> FdSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_all()

    def __contains__(self, fd: int) -> bool:
        return fd in self._fds

    def track(self, *fds: int) -> None:
        """Own ``fds`` (e.g. descriptors that recvmsg() installed)."""
        self._fds.update(fds)

    def pipe(self) -> tuple[int, int]:
        """A new pipe (read end, write end), owned."""
        r, w = os.pipe()
        self.track(r, w)
        return r, w

    def open(self, path: str | os.PathLike[str], flags: int, mode: int = 0o600) -> int:
        """``os.open()``, owned."""
        fd = os.open(path, flags, mode)
        self.track(fd)
        return fd

    def dup(self, fd: int) -> int:
        """``os.dup()``, owned."""
        new = os.dup(fd)
        self.track(new)
        return new

    def receive(self, sock: socket.socket, bufsize: int = 4096, **kwargs: Any) -> Received:
        """:func:`recv_ancillary`, owning every descriptor that arrives."""
        received = recv_ancillary(sock, bufsize, **kwargs)
        self.track(*received.fds)
        return received

    def close(self, *fds: int) -> None:
        """Close ``fds`` now and forget them."""
        for fd in fds:
            self._fds.discard(fd)
            os.close(fd)

    def close_all(self) -> None:
        """Close every descriptor still owned."""
        while self._fds:
            with contextlib.suppress(OSError):
                os.close(self._fds.pop())
