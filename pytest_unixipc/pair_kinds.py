"""Kinds of connected AF_UNIX socket pairs, as values (the gVisor ``SocketPairKind`` idea).

A property is written once and run over every kind of connected pair it applies to.  A kind is
a frozen value: the creator (how the two ends get connected), the socket type, and whether the
ends are non-blocking or swapped.  The creators are

* ``socketpair``: socketpair(2); both ends are unnamed (unix(7));
* ``path``: a socket bound to a filesystem path; SOCK_STREAM and SOCK_SEQPACKET listen(2) there
  and an unbound client connect(2)s, the accepted socket is the other end (accept(2));
  SOCK_DGRAM binds both ends to paths and connects each to the other (unix(7), connect(2));
* ``abstract``: the same with Linux abstract names (a leading NUL byte; unix(7)).  Only on Linux:
  the creator does not exist elsewhere, so no test is generated for it there.

``kind.open(directory)`` returns a :class:`SocketPair`, a context manager that closes both ends
and removes every file it made.  Path kinds need a private directory from the caller.  Small
combinators build the lists that properties are parametrized with.

No pytest imports here: this module is plain mechanics.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import secrets
import select
import socket
import struct
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from types import TracebackType

from pytest_unixipc.kinds import SOCKET_KINDS, socket_type
from pytest_unixipc.paths import check_sun_path

__all__ = [
    "ABSTRACT_NAMES",
    "ADDRESS_CREATORS",
    "CREATORS",
    "DEFAULT_GUARD_TIMEOUT",
    "FILL_LIMIT",
    "POLL_EVENT_NAMES",
    "Address",
    "PairKind",
    "SocketPair",
    "all_kinds",
    "bound_address",
    "connection_kinds",
    "count_until_error",
    "dgram_kinds",
    "drain",
    "errno_name",
    "events_text",
    "fill",
    "fill_numbered",
    "fresh_address",
    "kind_ids",
    "message_kinds",
    "messages_through",
    "nonblocking",
    "numbers_of",
    "only",
    "outcome",
    "pair_kinds",
    "poll_events",
    "remove_address",
    "reversals",
    "seqpacket_kinds",
    "set_socket_timeouts",
    "short_read",
    "stream_kinds",
    "with_creators",
]

#: What getsockname()/getpeername() return for an AF_UNIX socket in Python: ``""`` (or None on
#: some platforms) when unnamed, ``str`` for a path, ``bytes`` starting with NUL for an abstract
#: name (Linux).
Address = str | bytes | None

#: Linux has the abstract socket namespace (unix(7)); this is a platform fact.
ABSTRACT_NAMES: bool = sys.platform.startswith("linux")

#: Creators of connected pairs available on this platform, in a fixed order.
CREATORS: tuple[str, ...] = ("socketpair", "path", *(("abstract",) if ABSTRACT_NAMES else ()))

#: Creators that give a socket an address another socket can connect to.
ADDRESS_CREATORS: tuple[str, ...] = tuple(c for c in CREATORS if c != "socketpair")

#: SO_RCVTIMEO/SO_SNDTIMEO put on blocking kinds, so that a call that blocks by mistake fails
#: with EAGAIN after this many seconds instead of hanging the test run (socket(7)).
DEFAULT_GUARD_TIMEOUT = 5.0

_counter = itertools.count()
_CONNECTED = ("stream", "seqpacket")


def set_socket_timeouts(
    sock: socket.socket, recv: float | None = None, send: float | None = None
) -> None:
    """Set the kernel's SO_RCVTIMEO / SO_SNDTIMEO (socket(7)); 0 means "block forever".

    Unlike ``sock.settimeout`` this leaves the descriptor blocking: a call that times out fails
    with EAGAIN/EWOULDBLOCK (``BlockingIOError``), as in C.
    """
    for option, seconds in ((socket.SO_RCVTIMEO, recv), (socket.SO_SNDTIMEO, send)):
        if seconds is None:
            continue
        if seconds < 0:
            raise ValueError(f"a socket timeout must be >= 0 s, got {seconds}")
        whole = int(seconds)
        micro = round((seconds - whole) * 1_000_000)
        if micro == 0 and whole == 0 and seconds > 0:
            micro = 1
        sock.setsockopt(socket.SOL_SOCKET, option, struct.pack("@ll", whole, micro))


def fresh_address(creator: str, directory: str | os.PathLike[str] | None = None) -> str | bytes:
    """A new, unused address for ``creator`` "path" (in ``directory``) or "abstract" (Linux).

    Nothing is created; bind(2) creates the file of a path address (unix(7)).
    """
    tag = f"{os.getpid()}-{next(_counter)}"
    if creator == "path":
        if directory is None:
            raise ValueError("a path address needs a directory (the ipc_tmp_path fixture)")
        path = os.path.join(os.fspath(directory), f"p{tag}.sock")
        check_sun_path(path)  # SunPathTooLong (a ValueError) names the limit
        return path
    if creator == "abstract":
        if not ABSTRACT_NAMES:
            raise ValueError(f"abstract socket names do not exist on {sys.platform}")
        return b"\0uxipc-" + f"{tag}-{secrets.token_hex(4)}".encode()
    raise ValueError(f"unknown address creator {creator!r}: expected one of {ADDRESS_CREATORS}")


def remove_address(address: Address) -> None:
    """Unlink the file of a path address if it exists; abstract names vanish by themselves."""
    if isinstance(address, str) and address:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(address)


@contextlib.contextmanager
def bound_address(
    creator: str, directory: str | os.PathLike[str] | None = None
) -> Iterator[str | bytes]:
    """A fresh address for ``creator``; its file (if any) is removed on exit."""
    address = fresh_address(creator, directory)
    try:
        yield address
    finally:
        remove_address(address)


class SocketPair:
    """Two connected sockets ``a`` and ``b`` and the addresses they have.

    ``addr_a``/``addr_b`` are what ``a.getsockname()``/``b.getsockname()`` report on a
    conforming system: ``""`` when unnamed.  Use as a context manager, or unpack ``a, b = pair``.
    """

    def __init__(
        self,
        kind: PairKind,
        a: socket.socket,
        b: socket.socket,
        addr_a: Address,
        addr_b: Address,
        files: Sequence[str] = (),
    ) -> None:
        self.kind = kind
        self.a = a
        self.b = b
        self.addr_a = addr_a
        self.addr_b = addr_b
        self._files = list(files)

    def __iter__(self) -> Iterator[socket.socket]:
        yield self.a
        yield self.b

    def close(self) -> None:
        """Close both ends (closing twice is harmless) and remove the files made."""
        try:
            self.a.close()
        finally:
            try:
                self.b.close()
            finally:
                for path in self._files:
                    remove_address(path)
                self._files.clear()

    def __enter__(self) -> SocketPair:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SocketPair({self.kind.name}, addr_a={self.addr_a!r}, addr_b={self.addr_b!r})"


@dataclass(frozen=True)
class PairKind:
    """One way of making a connected AF_UNIX pair: creator, socket type and flags."""

    creator: str
    kind: str
    nonblocking: bool = False
    swapped: bool = False

    def __post_init__(self) -> None:
        if self.creator not in ("socketpair", "path", "abstract"):
            raise ValueError(f"unknown creator {self.creator!r}")
        socket_type(self.kind)  # ValueError listing the kinds

    @property
    def name(self) -> str:
        """Test id: ``socketpair-stream``, ``path-dgram``, ``abstract-seqpacket-nonblock``..."""
        parts = [self.creator, self.kind]
        if self.nonblocking:
            parts.append("nonblock")
        if self.swapped:
            parts.append("swapped")
        return "-".join(parts)

    @property
    def type(self) -> int:
        """The SOCK_* constant."""
        return socket_type(self.kind)

    @property
    def connection_oriented(self) -> bool:
        """SOCK_STREAM and SOCK_SEQPACKET are connection-oriented (socket(2))."""
        return self.kind in _CONNECTED

    @property
    def message_oriented(self) -> bool:
        """SOCK_DGRAM and SOCK_SEQPACKET keep message boundaries (unix(7))."""
        return self.kind != "stream"

    @property
    def needs_directory(self) -> bool:
        return self.creator == "path"

    def __str__(self) -> str:
        return self.name

    def open(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        guard_timeout: float | None = DEFAULT_GUARD_TIMEOUT,
    ) -> SocketPair:
        """Make a connected pair of this kind; path kinds put their files in ``directory``.

        Blocking kinds get SO_RCVTIMEO/SO_SNDTIMEO of ``guard_timeout`` seconds (None: none), so
        an unexpected block ends with EAGAIN instead of a hang.
        """
        if self.needs_directory and directory is None:
            raise ValueError(f"{self.name} needs a private directory (the ipc_tmp_path fixture)")
        if self.creator == "socketpair":
            pair = self._socketpair()
        elif self.connection_oriented:
            pair = self._listen_connect_accept(directory)
        else:
            pair = self._bind_both(directory)
        try:
            for end in pair:
                if self.nonblocking:
                    end.setblocking(False)
                elif guard_timeout:
                    set_socket_timeouts(end, guard_timeout, guard_timeout)
        except BaseException:
            pair.close()
            raise
        if self.swapped:
            pair.a, pair.b = pair.b, pair.a
            pair.addr_a, pair.addr_b = pair.addr_b, pair.addr_a
        return pair

    def _socketpair(self) -> SocketPair:
        a, b = socket.socketpair(socket.AF_UNIX, self.type)
        return SocketPair(self, a, b, "", "")

    def _listen_connect_accept(self, directory: str | os.PathLike[str] | None) -> SocketPair:
        address = fresh_address(self.creator, directory)
        files = [address] if isinstance(address, str) else []
        listener = socket.socket(socket.AF_UNIX, self.type)
        client: socket.socket | None = None
        try:
            listener.bind(address)
            listener.listen(1)
            client = socket.socket(socket.AF_UNIX, self.type)
            client.connect(address)
            listener.settimeout(DEFAULT_GUARD_TIMEOUT)
            accepted, _ = listener.accept()
            accepted.settimeout(None)
        except BaseException:
            if client is not None:
                client.close()
            for path in files:
                remove_address(path)
            raise
        finally:
            listener.close()
        return SocketPair(self, client, accepted, "", address, files)

    def _bind_both(self, directory: str | os.PathLike[str] | None) -> SocketPair:
        addr_a = fresh_address(self.creator, directory)
        addr_b = fresh_address(self.creator, directory)
        files = [x for x in (addr_a, addr_b) if isinstance(x, str)]
        a = socket.socket(socket.AF_UNIX, self.type)
        b = socket.socket(socket.AF_UNIX, self.type)
        try:
            a.bind(addr_a)
            b.bind(addr_b)
            a.connect(addr_b)
            b.connect(addr_a)
        except BaseException:
            a.close()
            b.close()
            for path in files:
                remove_address(path)
            raise
        return SocketPair(self, a, b, addr_a, addr_b, files)


# ---------------------------------------------------------------------------------------------
# Combinators: lists of kinds that a property is parametrized with.


def pair_kinds(
    *,
    creators: Iterable[str] = CREATORS,
    types: Iterable[str] = SOCKET_KINDS,
    nonblocking: bool = False,
) -> list[PairKind]:
    """Every (creator, type) combination available here, in a stable order (type-major)."""
    available = [c for c in creators if c in CREATORS]
    return [
        PairKind(creator, kind, nonblocking=nonblocking) for kind in types for creator in available
    ]


def all_kinds() -> list[PairKind]:
    """Every creator and every type: any connected AF_UNIX pair."""
    return pair_kinds()


def stream_kinds() -> list[PairKind]:
    """SOCK_STREAM pairs only."""
    return pair_kinds(types=("stream",))


def dgram_kinds() -> list[PairKind]:
    """SOCK_DGRAM pairs only."""
    return pair_kinds(types=("dgram",))


def seqpacket_kinds() -> list[PairKind]:
    """SOCK_SEQPACKET pairs only."""
    return pair_kinds(types=("seqpacket",))


def message_kinds() -> list[PairKind]:
    """Kinds that keep message boundaries: SOCK_DGRAM and SOCK_SEQPACKET."""
    return pair_kinds(types=("dgram", "seqpacket"))


def connection_kinds() -> list[PairKind]:
    """Connection-oriented kinds: SOCK_STREAM and SOCK_SEQPACKET."""
    return pair_kinds(types=_CONNECTED)


def only(kinds: Iterable[PairKind], *types: str) -> list[PairKind]:
    """The kinds among ``kinds`` whose socket type is one of ``types``."""
    return [k for k in kinds if k.kind in types]


def with_creators(kinds: Iterable[PairKind], *creators: str) -> list[PairKind]:
    """The kinds among ``kinds`` made by one of ``creators`` (absent creators drop out)."""
    return [k for k in kinds if k.creator in creators]


def nonblocking(kinds: Iterable[PairKind]) -> list[PairKind]:
    """The same kinds with both ends non-blocking (O_NONBLOCK)."""
    return [replace(k, nonblocking=True) for k in kinds]


def reversals(kinds: Iterable[PairKind]) -> list[PairKind]:
    """Each kind, followed by the same kind with its two ends swapped (gVisor IncludeReversals)."""
    out: list[PairKind] = []
    for k in kinds:
        out.extend((k, replace(k, swapped=not k.swapped)))
    return out


def kind_ids(kinds: Iterable[PairKind]) -> list[str]:
    """The test ids of ``kinds``."""
    return [k.name for k in kinds]


# ---------------------------------------------------------------------------------------------
# Small helpers shared by the socket properties: outcomes as errno names, filling, draining,
# readiness as names.  None of them waits: they use MSG_DONTWAIT or a zero poll() timeout.

#: poll(2) event names reported by :func:`poll_events`, where the platform defines them.
POLL_EVENT_NAMES: tuple[str, ...] = tuple(
    name
    for name in ("POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLRDHUP")
    if hasattr(select, name)
)

#: Upper bound on sends in :func:`fill`; a send that never reports "full" fails the caller.
FILL_LIMIT = 1_000_000


def errno_name(exc: OSError) -> str:
    """``"EAGAIN"``, ``"EPIPE"``... for an OSError (its errno's symbolic name)."""
    if exc.errno is None:
        return f"no errno ({exc})"
    return errno.errorcode.get(exc.errno, str(exc.errno))


def outcome(func: Callable[..., object], *args: object) -> str:
    """Call ``func(*args)``: ``"ok"`` if it returns, else the errno name of the OSError."""
    try:
        func(*args)
    except OSError as exc:
        return errno_name(exc)
    return "ok"


def fill(sock: socket.socket, chunk: bytes = b"x", limit: int = FILL_LIMIT) -> tuple[int, int]:
    """send(MSG_DONTWAIT) ``chunk`` until the socket reports "would block" (EAGAIN).

    Returns (sends that succeeded, bytes sent).  Raises AssertionError if it never fills
    within ``limit`` sends, and lets any other error (ENOBUFS, EPIPE...) through.
    """
    count = sent = 0
    while count < limit:
        try:
            n = sock.send(chunk, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return count, sent
        count += 1
        sent += n
    raise AssertionError(f"send() never reported a full socket (EAGAIN) within {limit} sends")


def count_until_error(
    func: Callable[..., object], *args: object, limit: int = FILL_LIMIT
) -> tuple[int, str]:
    """Call ``func(*args)`` until it raises OSError; (successful calls, errno name).

    For "how many datagrams fit": pass a non-blocking send.  Raises AssertionError if no error
    comes within ``limit`` calls.
    """
    for count in range(limit):
        try:
            func(*args)
        except OSError as exc:
            return count, errno_name(exc)
    raise AssertionError(f"{getattr(func, '__name__', func)} never failed within {limit} calls")


def drain(sock: socket.socket, bufsize: int = 1 << 20, limit: int = FILL_LIMIT) -> list[bytes]:
    """recv(MSG_DONTWAIT) until EAGAIN; the messages (or stream chunks) read, in order.

    Stops early at a zero-length read on a connection-oriented socket (EOF).
    """
    out: list[bytes] = []
    stream_or_seq = sock.type in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET)
    while len(out) < limit:
        try:
            data = sock.recv(bufsize, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return out
        if not data and stream_or_seq:
            return out
        out.append(data)
    raise AssertionError(f"recv() still had data after {limit} reads")


def messages_through(pair: SocketPair, messages: Sequence[bytes]) -> list[bytes]:
    """Send each of ``messages`` from ``pair.a``, then drain ``pair.b``: what arrived, as read."""
    for message in messages:
        pair.a.send(message)
    return drain(pair.b, 1 << 16)


def short_read(
    pair: SocketPair, first: bytes = b"0123456789", then: bytes = b"next", bufsize: int = 4
) -> tuple[bytes, int, bytes]:
    """Send ``first`` and ``then``; read the first with a ``bufsize``-byte recvmsg(), then
    recv() once more: (what the short read got, its msg_flags, what the next read got)."""
    pair.a.send(first)
    pair.a.send(then)
    head, _, flags, _ = pair.b.recvmsg(bufsize)
    return head, flags, pair.b.recv(64, socket.MSG_DONTWAIT)


def fill_numbered(sock: socket.socket, padding: int) -> tuple[int, str]:
    """Send messages numbered 0, 1, ... (a 4-byte counter and ``padding`` bytes) with
    MSG_DONTWAIT until send() fails: (how many it accepted, the errno name)."""
    counter = itertools.count()

    def send_next() -> None:
        sock.send(struct.pack("!I", next(counter)) + b"." * padding, socket.MSG_DONTWAIT)

    return count_until_error(send_next)


def numbers_of(messages: Iterable[bytes]) -> list[int]:
    """The counters of messages sent by :func:`fill_numbered`, in the order read."""
    return [struct.unpack("!I", message[:4])[0] for message in messages]


def poll_events(sock: socket.socket | int, timeout: float = 0.0) -> frozenset[str]:
    """The poll(2) events of ``sock`` now (or within ``timeout`` s), as names."""
    poller = select.poll()
    mask = 0
    for name in POLL_EVENT_NAMES:
        mask |= getattr(select, name)
    poller.register(sock, mask)
    result = poller.poll(timeout * 1000)
    got = result[0][1] if result else 0
    return frozenset(name for name in POLL_EVENT_NAMES if got & getattr(select, name))


def events_text(events: Iterable[str]) -> str:
    """A stable text for a set of poll event names, e.g. ``"POLLIN|POLLOUT"`` ("-" if none)."""
    ordered = [name for name in POLL_EVENT_NAMES if name in set(events)]
    return "|".join(ordered) or "-"
