"""SOCK_SEQPACKET: connection-oriented, reliable, ordered records that keep their boundaries.

Pair properties run over every seqpacket pair kind; listen/accept properties over the address
creators (path, abstract on Linux).
"""

from __future__ import annotations

import socket

import pytest

from pytest_unixipc.pair_kinds import (
    ADDRESS_CREATORS,
    PairKind,
    bound_address,
    drain,
    fill_numbered,
    messages_through,
    numbers_of,
    outcome,
    seqpacket_kinds,
    set_socket_timeouts,
    short_read,
)

SEQPACKET = seqpacket_kinds()
MSG_EOR = getattr(socket, "MSG_EOR", 0)


def _seqpacket() -> socket.socket:
    return socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)


class _Connection:
    """A listener at ``address`` and one client connected to it, not yet accepted."""

    def __init__(self, address: str | bytes) -> None:
        self.listener = _seqpacket()
        self.client = _seqpacket()
        self.server: socket.socket | None = None
        self.address = address

    def __enter__(self) -> _Connection:
        self.listener.bind(self.address)
        self.listener.listen(1)
        self.client.connect(self.address)
        return self

    def accept(self) -> socket.socket:
        self.listener.settimeout(5.0)
        self.server, _ = self.listener.accept()
        self.server.settimeout(None)
        set_socket_timeouts(self.server, 5.0, 5.0)
        return self.server

    def __exit__(self, *exc: object) -> None:
        for s in (self.listener, self.client, self.server):
            if s is not None:
                s.close()


@pytest.mark.ipc_property("seqpacket.boundaries", ref="unix(7), socket(2)")
@pytest.mark.parametrize("kind", SEQPACKET, ids=str)
def test_boundaries(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """Each send() is one record and one recv() returns exactly one record, even when several
    are queued (socket(2): SOCK_SEQPACKET "provides a sequenced, reliable, two-way
    connection-based data transmission path for datagrams of fixed maximum length"; unix(7))."""
    records = [b"r", b"rr" * 40, b"r" * 3000, b"end"]
    with kind.open(ipc_tmp_path) as pair:
        received = messages_through(pair, records)
    ipc_record.observe("sizes received", [len(r) for r in received])
    assert received == records, f"{kind}: sizes {[len(r) for r in received]} were received"


@pytest.mark.ipc_property("seqpacket.truncate", ref="unix(7), recv(2); FreeBSD unix(4)")
@pytest.mark.parametrize("kind", SEQPACKET, ids=str)
def test_truncate(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A receive buffer shorter than the record gets its first bytes with MSG_TRUNC, and the
    rest of the record is discarded: the next recv() returns the next record (POSIX recv():
    "For message-based sockets, such as SOCK_DGRAM and SOCK_SEQPACKET ... the excess bytes
    shall be discarded"; unix(7)).  FreeBSD keeps the rest for the next read and marks record
    ends with MSG_EOR."""
    with kind.open(ipc_tmp_path) as pair:
        head, flags, following = short_read(pair)
    ipc_record.observe("msg_flags", flags)
    assert head == b"0123", f"{kind}: truncated read returned {head!r}"
    if following == b"next":
        behaviour = "rest discarded"
    elif following == b"456789":
        behaviour = "rest kept for the next read"
    else:
        behaviour = f"next read {following!r}"
    if behaviour == "rest discarded":
        assert flags & socket.MSG_TRUNC, f"{kind}: rest discarded but MSG_TRUNC not set"
    ipc_record.expect(
        behaviour,
        portable="rest discarded",
        linux="rest discarded",
        freebsd="rest kept for the next read",
        note="POSIX recv(): for SOCK_SEQPACKET the excess bytes shall be discarded",
    )


@pytest.mark.ipc_property("seqpacket.eof", ref="unix(7), recv(2)")
@pytest.mark.parametrize("kind", SEQPACKET, ids=str)
def test_eof(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """After the peer closes, queued records are still read, then recv() returns 0 (end of
    file), unlike SOCK_DGRAM (unix(7): SOCK_SEQPACKET is connection-oriented; recv(2))."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"queued")
        pair.a.close()
        data = pair.b.recv(64, socket.MSG_DONTWAIT)
        eof = [pair.b.recv(64, socket.MSG_DONTWAIT) for _ in range(2)]
    ipc_record.observe("reads after close", [data.decode(), *map(bytes.decode, eof)])
    assert data == b"queued", f"{kind}: queued record lost on close: {data!r}"
    assert eof == [b"", b""], f"{kind}: expected EOF twice after the queued record, got {eof}"


@pytest.mark.ipc_property("seqpacket.listen-accept", ref="unix(7), listen(2), accept(2)")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
def test_listen_accept(ipc_record, ipc_tmp_path, creator: str) -> None:
    """A SOCK_SEQPACKET socket binds, listens and accepts; a client connects by address and
    records flow both ways (unix(7): "SOCK_SEQPACKET ... connection-oriented"; listen(2):
    "applies only to sockets of type SOCK_STREAM or SOCK_SEQPACKET")."""
    with bound_address(creator, ipc_tmp_path) as address, _Connection(address) as conn:
        server = conn.accept()
        conn.client.send(b"hello")
        conn.client.send(b"server")
        request = [server.recv(64), server.recv(64)]
        server.send(b"hi client")
        reply = conn.client.recv(64, socket.MSG_DONTWAIT)
        listening = conn.listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    ipc_record.observe("server read", [r.decode() for r in request])
    assert request == [b"hello", b"server"], f"records merged or lost: {request}"
    assert reply == b"hi client"
    assert listening == 1, "SO_ACCEPTCONN is not set on the listening seqpacket socket"


@pytest.mark.ipc_property("seqpacket.sendmsg-recvmsg", ref="sendmsg(2), recvmsg(2), unix(7)")
@pytest.mark.parametrize("kind", SEQPACKET, ids=str)
def test_sendmsg_recvmsg(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """sendmsg() gathers several buffers into one record; recvmsg() scatters one record over
    several buffers in order, returning the total length without MSG_TRUNC (sendmsg(2):
    msg_iov "array of buffers"; recvmsg(2): readv(2)-like scatter)."""
    parts = [b"head-", b"body-" * 10, b"tail"]
    record = b"".join(parts)
    with kind.open(ipc_tmp_path) as pair:
        sent = pair.a.sendmsg(parts)
        pair.a.send(b"second record")
        bufs = [bytearray(7), bytearray(20), bytearray(100)]
        nbytes, _, flags, _ = pair.b.recvmsg_into(bufs)
        second = pair.b.recv(64, socket.MSG_DONTWAIT)
    joined = b"".join(bufs)[:nbytes]
    ipc_record.observe("sendmsg returned", sent)
    ipc_record.observe("recvmsg_into returned", nbytes)
    assert sent == len(record)
    assert nbytes == len(record), f"{kind}: one recvmsg returned {nbytes} of {len(record)} bytes"
    assert joined == record, f"{kind}: scattered buffers hold {joined!r}"
    assert bytes(bufs[0]) == record[:7], "the first buffer was not filled first"
    assert not flags & socket.MSG_TRUNC
    assert second == b"second record", f"{kind}: the gathered record spilled over: {second!r}"


def _send_after_close(sock: socket.socket) -> str:
    """Child: wait for EOF, then send; report the errno (if SIGPIPE does not kill us)."""
    set_socket_timeouts(sock, 5.0, 5.0)
    if sock.recv(16) != b"":
        return "no EOF"
    return outcome(sock.send, b"late")


@pytest.mark.ipc_property("seqpacket.no-sigpipe", ref="unix(7), send(2); FreeBSD unix(4)")
def test_no_sigpipe(ipc_record, forked_peer) -> None:
    """Sending on a seqpacket socket whose peer closed fails with EPIPE; on Linux without
    SIGPIPE even in a process with the default disposition (Linux raises SIGPIPE only for
    SOCK_STREAM).  FreeBSD raises SIGPIPE for seqpacket too (send(2), unix(7); FreeBSD
    tests/sys/kern/unix_seqpacket_test.c send_to_closed)."""
    peer = forked_peer(_send_after_close, kind="seqpacket")
    peer.sock.close()
    try:
        observed = f"{peer.join(timeout=5.0)} without SIGPIPE"
    except AssertionError as exc:
        sig = getattr(exc, "signal", None)
        observed = "killed by SIGPIPE" if sig is not None else str(exc)
    ipc_record.expect(
        observed,
        portable="killed by SIGPIPE",
        linux="EPIPE without SIGPIPE",
        freebsd="killed by SIGPIPE",
    )


@pytest.mark.ipc_property("seqpacket.eor", ref="unix(7), recvmsg(2); FreeBSD unix(4)")
@pytest.mark.parametrize("kind", SEQPACKET, ids=str)
def test_eor(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """MSG_EOR is accepted on send(); Linux never reports it in recvmsg()'s msg_flags (each
    record ends implicitly); FreeBSD reports MSG_EOR at the end of each record (recvmsg(2):
    "MSG_EOR indicates end-of-record")."""
    with kind.open(ipc_tmp_path) as pair:
        sent = outcome(pair.a.send, b"record", MSG_EOR)
        data, _, flags, _ = pair.b.recvmsg(64)
    assert sent == "ok", f"{kind}: send with MSG_EOR failed with {sent}"
    assert data == b"record"
    ipc_record.expect(
        "MSG_EOR reported" if flags & MSG_EOR else "MSG_EOR not reported",
        linux="MSG_EOR not reported",
        freebsd="MSG_EOR reported",
    )


@pytest.mark.ipc_property("seqpacket.send-before-accept", ref="unix(7); FreeBSD unix_seqpacket")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
def test_send_before_accept(ipc_record, ipc_tmp_path, creator: str) -> None:
    """A client may send as soon as connect() returns, before the server calls accept(); the
    record is waiting on the accepted socket (connect(2) completes against the listen queue;
    FreeBSD tests/sys/kern/unix_seqpacket_test.c send_before_accept)."""
    with bound_address(creator, ipc_tmp_path) as address, _Connection(address) as conn:
        conn.client.send(b"early bird")
        server = conn.accept()
        data = server.recv(64, socket.MSG_DONTWAIT)
    assert data == b"early bird", f"the record sent before accept() was {data!r}"


@pytest.mark.ipc_property("seqpacket.sendto-connected", ref="sendto(2), unix(7)")
@pytest.mark.parametrize("kind", SEQPACKET, ids=str)
def test_sendto_connected(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """sendto() with an address on a connected seqpacket socket: POSIX says the address is
    ignored for connection-mode sockets or EISCONN; Linux ignores it and delivers to the peer
    (unlike SOCK_STREAM, which gives EISCONN) (sendto(2); gVisor SeqpacketUnixSocketPairTest)."""
    with kind.open(ipc_tmp_path) as pair:
        result = outcome(pair.a.sendto, b"x", str(ipc_tmp_path / "elsewhere"))
        got = outcome(pair.b.recv, 16, socket.MSG_DONTWAIT)
    observed = "delivered to the peer" if result == "ok" and got == "ok" else result
    ipc_record.expect(observed, linux="delivered to the peer")


@pytest.mark.ipc_property("seqpacket.unconnected-send", ref="send(2), sendto(2)")
def test_unconnected_send(ipc_record, ipc_tmp_path) -> None:
    """send() and even sendto() with an address fail with ENOTCONN on an unconnected seqpacket
    socket: only SOCK_DGRAM connects implicitly (sendto(2): ENOTCONN "The socket is not
    connected, and no target has been given"; FreeBSD implied_connect test)."""
    with _seqpacket() as sock:
        results = [outcome(sock.send, b"x"), outcome(sock.sendto, b"x", str(ipc_tmp_path / "n"))]
    ipc_record.observe("send, sendto", results)
    assert results == ["ENOTCONN", "ENOTCONN"], f"unconnected seqpacket send gave {results}"


@pytest.mark.ipc_property("seqpacket.max-size", ref="unix(7), send(2)")
@pytest.mark.parametrize("kind", SEQPACKET, ids=str)
def test_max_size(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A record larger than the send buffer cannot be sent atomically: send() fails with
    EMSGSIZE rather than splitting it (send(2): "EMSGSIZE The socket type requires that message
    be sent atomically")."""
    with kind.open(ipc_tmp_path) as pair:
        sndbuf = pair.a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        result = outcome(pair.a.send, bytes(4 * sndbuf + 4096), socket.MSG_DONTWAIT)
    ipc_record.observe("SO_SNDBUF", sndbuf)
    assert result == "EMSGSIZE", f"{kind}: a record of 4 x SO_SNDBUF gave {result}"


@pytest.mark.ipc_property("seqpacket.waitall-record", ref="recv(2); FreeBSD unix(4)")
@pytest.mark.parametrize("kind", SEQPACKET, ids=str)
def test_waitall_record(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """recv(MSG_WAITALL) on a seqpacket socket returns one record, shorter than asked, without
    waiting for more (Linux; recv(2): MSG_WAITALL "may still return less data than requested"
    at a record boundary).  FreeBSD fills until the end of record."""
    with kind.open(ipc_tmp_path, guard_timeout=None) as pair:
        set_socket_timeouts(pair.b, recv=0.5)
        pair.a.send(b"short")
        pair.a.send(b"another")
        try:
            data = pair.b.recv(100, socket.MSG_WAITALL)
        except BlockingIOError:
            data = b"<blocked>"
    ipc_record.observe("returned", data.decode())
    ipc_record.expect(
        "one record" if data == b"short" else f"{data!r}",
        linux="one record",
        note="recv(100, MSG_WAITALL) with a 5-byte record queued",
    )


@pytest.mark.ipc_property("seqpacket.reliable", ref="socket(2), unix(7); FreeBSD unix_seqpacket")
@pytest.mark.parametrize("kind", SEQPACKET, ids=str)
def test_reliable(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """No record is lost when the receiver falls behind: a non-blocking sender fills the
    connection until send() fails with EAGAIN, then every record it accepted is read back,
    numbered and in order (socket(2): SOCK_SEQPACKET is "sequenced, reliable"; FreeBSD
    tests/sys/kern/unix_seqpacket_test.c "Packets were lost!")."""
    with kind.open(ipc_tmp_path) as pair:
        sent, error = fill_numbered(pair.a, padding=200)
        numbers = numbers_of(drain(pair.b))
    ipc_record.observe("records accepted", sent)
    assert error == "EAGAIN", f"{kind}: a full seqpacket connection gave {error}"
    assert numbers == list(range(sent)), f"{kind}: {sent - len(numbers)} records lost"
