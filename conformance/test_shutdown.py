"""shutdown(2) on AF_UNIX sockets: what each direction's shutdown does to both ends.

Every property runs over every pair kind; where stream/seqpacket and dgram differ, the test
states the expectation per socket type.
"""

from __future__ import annotations

import socket

import pytest

from pytest_unixipc.pair_kinds import PairKind, all_kinds, drain, errno_name, outcome

ALL = all_kinds()
TYPES = {
    "stream": socket.SOCK_STREAM,
    "dgram": socket.SOCK_DGRAM,
    "seqpacket": socket.SOCK_SEQPACKET,
}


def _read_state(sock: socket.socket) -> str:
    """'EOF' for a zero-length read on a connection, 'data' for data, else the errno name."""
    try:
        data = sock.recv(64, socket.MSG_DONTWAIT)
    except OSError as exc:
        return errno_name(exc)
    return "data" if data else "EOF"


@pytest.mark.ipc_property("shutdown.rd-recv", ref="shutdown(2), recv(2)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_rd_recv(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """After shutdown(SHUT_RD) on an empty socket, further receives are disallowed: a stream or
    seqpacket recv() returns 0 (end of file) at once; a datagram recv() finds nothing (EAGAIN)
    (shutdown(2): "If how is SHUT_RD, further receptions will be disallowed")."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.shutdown(socket.SHUT_RD)
        observed = _read_state(pair.a)
    ipc_record.expect(
        observed,
        linux="EOF" if kind.connection_oriented else "EAGAIN",
        note=f"recv after own SHUT_RD on {kind.kind}",
    )


@pytest.mark.ipc_property("shutdown.rd-peer-epipe", ref="shutdown(2), send(2), unix(7)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_rd_peer_epipe(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """After one end's shutdown(SHUT_RD), the peer's sends fail with EPIPE on Linux AF_UNIX,
    for every socket type: the reading end will never read them (send(2): EPIPE; Linux
    af_unix propagates the receive shutdown to the peer's send side)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.shutdown(socket.SHUT_RD)
        flags = getattr(socket, "MSG_NOSIGNAL", 0) | socket.MSG_DONTWAIT
        observed = outcome(pair.b.send, b"unwanted", flags)
    ipc_record.expect(observed, linux="EPIPE", note="peer's send after our SHUT_RD")


@pytest.mark.ipc_property("shutdown.wr-send-epipe", ref="shutdown(2), POSIX send()")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_wr_send_epipe(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """After shutdown(SHUT_WR), our own send() fails with EPIPE on every socket type (POSIX
    send(): EPIPE "The socket is shut down for writing"; shutdown(2))."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.shutdown(socket.SHUT_WR)
        flags = getattr(socket, "MSG_NOSIGNAL", 0) | socket.MSG_DONTWAIT
        observed = outcome(pair.a.send, b"late", flags)
    ipc_record.observe("send after SHUT_WR", observed)
    assert observed == "EPIPE", f"{kind}: send after SHUT_WR gave {observed}"


@pytest.mark.ipc_property("shutdown.wr-peer-reads", ref="shutdown(2), recv(2), unix(7)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_wr_peer_reads(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """After shutdown(SHUT_WR), the peer still reads what was queued; then a stream or
    seqpacket peer reads end of file, while a datagram peer just finds an empty queue (EAGAIN):
    datagram sockets have no EOF (shutdown(2), recv(2); gVisor PeerWriteShutdown)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"before")
        pair.a.shutdown(socket.SHUT_WR)
        first = pair.b.recv(64, socket.MSG_DONTWAIT)
        then = _read_state(pair.b)
    assert first == b"before", f"{kind}: data queued before SHUT_WR was {first!r}"
    expected = "EOF" if kind.connection_oriented else "EAGAIN"
    ipc_record.observe("after the queued data", then)
    assert then == expected, f"{kind}: after the peer's SHUT_WR a read gave {then}"


@pytest.mark.ipc_property("shutdown.keeps-queued", ref="shutdown(2), unix(7)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_keeps_queued(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """shutdown(SHUT_RDWR) on both ends does not discard data already queued: each end still
    reads what the other sent before (shutdown(2) stops further transmissions; gVisor
    socket_unix Shutdown)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"to b")
        pair.b.send(b"to a")
        pair.a.shutdown(socket.SHUT_RDWR)
        pair.b.shutdown(socket.SHUT_RDWR)
        got = (drain(pair.a), drain(pair.b))
    ipc_record.observe("read after SHUT_RDWR", [[m.decode() for m in g] for g in got])
    assert got == ([b"to a"], [b"to b"]), f"{kind}: queued data lost by shutdown: {got}"


@pytest.mark.ipc_property("shutdown.unconnected", ref="shutdown(2), POSIX shutdown()")
@pytest.mark.parametrize("sock_kind", list(TYPES))
def test_unconnected(ipc_record, sock_kind: str) -> None:
    """shutdown() on a socket that is not connected: POSIX says ENOTCONN ("The socket is not
    connected"), as FreeBSD does; Linux AF_UNIX accepts it and returns 0 (shutdown(2);
    FreeBSD tests/sys/kern/unix_dgram.c shutdown_dgram)."""
    with socket.socket(socket.AF_UNIX, TYPES[sock_kind]) as sock:
        observed = outcome(sock.shutdown, socket.SHUT_RDWR)
    ipc_record.expect(observed, portable="ENOTCONN", linux="ok", freebsd="ENOTCONN")


@pytest.mark.ipc_property("shutdown.invalid-how", ref="shutdown(2)")
@pytest.mark.parametrize("kind", ALL[:1], ids=str)
def test_invalid_how(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """shutdown() with a `how` other than SHUT_RD, SHUT_WR or SHUT_RDWR fails with EINVAL
    (shutdown(2): "EINVAL An invalid value was specified in how")."""
    with kind.open(ipc_tmp_path) as pair:
        observed = outcome(pair.a.shutdown, 7)
        still = pair.a.send(b"ok")
    assert observed == "EINVAL", f"shutdown(fd, 7) gave {observed}"
    assert still == 2, "a rejected shutdown() changed the socket"
