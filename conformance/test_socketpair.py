"""socketpair(2) and what every connected AF_UNIX pair shares, whatever made it.

The properties that hold for any connected pair (full duplex, plain read()/write()) run over
every pair kind: socketpair(), bound by path then connected, abstract name (Linux).
"""

from __future__ import annotations

import fcntl
import os
import socket

import pytest

from pytest_unixipc.pair_kinds import PairKind, all_kinds, errno_name, set_socket_timeouts

ALL = all_kinds()
TYPES = ("stream", "dgram", "seqpacket")
_SOCK = {
    "stream": socket.SOCK_STREAM,
    "dgram": socket.SOCK_DGRAM,
    "seqpacket": socket.SOCK_SEQPACKET,
}


@pytest.mark.ipc_property("socketpair.full-duplex", ref="socketpair(2), unix(7)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_full_duplex(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """Both ends of a connected pair send and receive, and data flows both ways at once: each
    end's message is queued before either reads (socketpair(2): "the two sockets are
    indistinguishable"; unix(7))."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"a->b")
        pair.b.send(b"b->a")  # both directions in flight at the same time
        got_b = pair.b.recv(64, socket.MSG_DONTWAIT)
        got_a = pair.a.recv(64, socket.MSG_DONTWAIT)
    ipc_record.observe("a received", got_a.decode())
    ipc_record.observe("b received", got_b.decode())
    assert got_b == b"a->b", f"{kind}: b read {got_b!r}, expected what a sent"
    assert got_a == b"b->a", f"{kind}: a read {got_a!r}, expected what b sent"


@pytest.mark.ipc_property("socketpair.read-write", ref="unix(7), read(2), write(2)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_read_write(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """Plain write(2) and read(2) work on the socket descriptors, like send()/recv() with no
    flags (unix(7); send(2): "send() with a zero flags argument is equivalent to write()")."""
    with kind.open(ipc_tmp_path) as pair:
        written = os.write(pair.a.fileno(), b"plain write")
        data = os.read(pair.b.fileno(), 64)
    ipc_record.observe("bytes written", written)
    assert written == len(b"plain write")
    assert data == b"plain write", f"{kind}: read() returned {data!r}"


def _child_echo_upper(sock: socket.socket) -> str:
    """In the forked child: read one message, send it back upper-cased, report what came."""
    set_socket_timeouts(sock, 5.0, 5.0)
    data = sock.recv(256)
    sock.send(data.upper())
    return data.decode()


@pytest.mark.ipc_property("socketpair.fork-exchange", ref="socketpair(2), fork(2)")
@pytest.mark.parametrize("sock_kind", TYPES)
def test_fork_exchange(ipc_record, forked_peer, sock_kind: str) -> None:
    """After fork(2), parent and child each hold one end of a socketpair(2) and exchange data
    both ways (socketpair(2); fork(2): the child inherits copies of the descriptors)."""
    peer = forked_peer(_child_echo_upper, kind=sock_kind)
    set_socket_timeouts(peer.sock, 5.0, 5.0)
    peer.sock.send(b"hello child")
    reply = peer.sock.recv(256)
    child_saw = peer.join(timeout=5.0)
    ipc_record.observe("child received", child_saw)
    assert child_saw == "hello child", "the child did not receive the parent's message"
    assert reply == b"HELLO CHILD", f"the parent got {reply!r} back from the child"


@pytest.mark.ipc_property("socketpair.types", ref="socketpair(2), unix(7)")
@pytest.mark.parametrize("sock_kind", TYPES)
def test_types(ipc_record, sock_kind: str) -> None:
    """socketpair(AF_UNIX, ...) creates connected pairs of SOCK_STREAM, SOCK_DGRAM and
    SOCK_SEQPACKET, and SO_TYPE reports the type asked for (unix(7): "Valid socket types in the
    UNIX domain are: SOCK_STREAM ... SOCK_DGRAM ... SOCK_SEQPACKET")."""
    a, b = socket.socketpair(socket.AF_UNIX, _SOCK[sock_kind])
    with a, b:
        types = {s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) for s in (a, b)}
        families = {a.family, b.family}
    ipc_record.observe("SO_TYPE", sorted(types))
    assert types == {_SOCK[sock_kind]}, f"SO_TYPE {types} for a {sock_kind} socketpair"
    assert families == {socket.AF_UNIX}


@pytest.mark.ipc_property("socketpair.inet-unsupported", ref="socketpair(2), POSIX socketpair()")
def test_inet_unsupported(ipc_record) -> None:
    """socketpair(AF_INET, SOCK_STREAM) fails: the Internet protocols do not permit socket pairs
    (POSIX socketpair(): EOPNOTSUPP "The specified protocol does not permit creation of socket
    pairs"; socketpair(2) on Linux: EOPNOTSUPP)."""
    try:
        a, b = socket.socketpair(socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        observed = errno_name(exc)
    else:
        a.close()
        b.close()
        observed = "created"
    ipc_record.expect(
        "EOPNOTSUPP" if observed == "ENOTSUP" else observed,  # the same value on Linux
        portable="EOPNOTSUPP",
        linux="EOPNOTSUPP",
        freebsd="EOPNOTSUPP",
        darwin="EOPNOTSUPP",
    )


@pytest.mark.ipc_property("socketpair.protocol", ref="unix(7), socket(2)")
def test_protocol(ipc_record) -> None:
    """The protocol argument must be 0 (or PF_UNIX); any other protocol fails with
    EPROTONOSUPPORT (socket(2): "The protocol type or the specified protocol is not supported
    within this domain"; unix(7): protocol 0)."""
    for protocol in (0, socket.AF_UNIX):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM, protocol)
        a.close()
        b.close()
    try:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM, 17)
    except OSError as exc:
        observed = errno_name(exc)
    else:
        a.close()
        b.close()
        observed = "created"
    ipc_record.observe("protocol 17", observed)
    assert observed == "EPROTONOSUPPORT", f"protocol 17 gave {observed}"


@pytest.mark.ipc_property("socketpair.flags", ref="socketpair(2), socket(2)")
def test_flags(ipc_record) -> None:
    """SOCK_NONBLOCK and SOCK_CLOEXEC or-ed into the type set O_NONBLOCK and FD_CLOEXEC on both
    new descriptors (socket(2), socketpair(2); in POSIX.1-2024).  macOS has neither flag."""
    nonblock = getattr(socket, "SOCK_NONBLOCK", None)
    cloexec = getattr(socket, "SOCK_CLOEXEC", None)
    if nonblock is None or cloexec is None:
        observed = "unavailable"
    else:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | nonblock | cloexec)
        with a, b:
            flags = [fcntl.fcntl(s.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK for s in (a, b)]
            fdflags = [fcntl.fcntl(s.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC for s in (a, b)]
            try:
                a.recv(1)
                blocked = "no EAGAIN"
            except BlockingIOError:
                blocked = "EAGAIN"
        ipc_record.observe("recv on empty", blocked)
        honoured = all(flags) and all(fdflags) and blocked == "EAGAIN"
        observed = "honoured" if honoured else f"ignored (O_NONBLOCK {flags}, FD_CLOEXEC {fdflags})"
    ipc_record.expect(
        observed, portable="honoured", linux="honoured", freebsd="honoured", darwin="unavailable"
    )


@pytest.mark.ipc_property("socketpair.proc-reopen", ref="proc(5) /proc/pid/fd, unix(7)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_proc_reopen(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A socket cannot be reopened through /proc/self/fd/N: open() fails with ENXIO, as for a
    socket file (Linux; proc(5): the fd links of sockets are "socket:[inode]", and open(2)
    ENXIO "The file is a UNIX domain socket").  Other systems have no /proc/self/fd."""
    with kind.open(ipc_tmp_path) as pair:
        link = f"/proc/self/fd/{pair.a.fileno()}"
        if not os.path.exists("/proc/self/fd"):
            observed = "no /proc/self/fd"
        else:
            try:
                fd = os.open(link, os.O_RDWR)
            except OSError as exc:
                observed = errno_name(exc)
            else:
                os.close(fd)
                observed = "reopened"
    ipc_record.expect(observed, linux="ENXIO")
