"""SOCK_STREAM: a reliable, ordered, connection-oriented byte stream without boundaries.

Properties run over every stream pair kind (socketpair, path, abstract on Linux).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_unixipc.pair_kinds import (
    ADDRESS_CREATORS,
    PairKind,
    bound_address,
    errno_name,
    outcome,
    reversals,
    set_socket_timeouts,
    stream_kinds,
)

STREAM = stream_kinds()
MSG_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)


class _Sender(threading.Thread):
    """Sends ``chunks`` on ``sock`` (blocking), then optionally shuts down writing."""

    def __init__(self, sock: socket.socket, chunks: list[bytes], shut_wr: bool) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.chunks = chunks
        self.shut_wr = shut_wr
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for chunk in self.chunks:
                self.sock.sendall(chunk)
            if self.shut_wr:
                self.sock.shutdown(socket.SHUT_WR)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self, timeout: float = 10.0) -> None:
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError(f"the sender thread did not finish within {timeout:g} s")
        if self.error is not None:
            raise AssertionError(f"the sender thread failed: {self.error!r}") from self.error


def _recv_to_eof(sock: socket.socket, bufsize: int = 1 << 16) -> bytes:
    parts = []
    while True:
        data = sock.recv(bufsize)
        if not data:
            return b"".join(parts)
        parts.append(data)


@pytest.mark.ipc_property("stream.no-boundaries", ref="unix(7), socket(2)")
@pytest.mark.parametrize("kind", STREAM, ids=str)
def test_no_boundaries(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """Two sends, both queued, are returned by one recv(): a stream keeps no message boundaries
    (socket(2): SOCK_STREAM "provides sequenced, reliable, two-way, connection-based byte
    streams"; unix(7))."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"first-")
        pair.a.send(b"second")
        data = pair.b.recv(64, socket.MSG_DONTWAIT)
    ipc_record.observe("one recv() of two sends", data.decode())
    assert data == b"first-second", f"{kind}: one recv returned {data!r}; boundaries were kept"


@pytest.mark.ipc_property("stream.reliable-ordered", ref="socket(2), unix(7)")
@pytest.mark.parametrize("kind", STREAM, ids=str)
def test_reliable_ordered(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """Every byte of a transfer much larger than the socket buffers arrives exactly once and in
    order (socket(2): SOCK_STREAM is "sequenced, reliable"); checked by length and SHA-256."""
    size = 2 << 20  # ten times the default socket buffers
    data = random.Random(20240607).randbytes(size)
    with kind.open(ipc_tmp_path) as pair:
        sender = _Sender(pair.a, [data[i : i + 300_000] for i in range(0, size, 300_000)], True)
        sender.start()
        try:
            received = _recv_to_eof(pair.b)
        finally:
            if sender.is_alive():
                pair.b.shutdown(socket.SHUT_RDWR)  # unblocks the sender if we failed early
            sender.finish()
    ipc_record.observe("bytes transferred", len(received))
    assert len(received) == size, f"{kind}: received {len(received)} of {size} bytes"
    assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest(), (
        f"{kind}: content differs (bytes reordered, duplicated or corrupted)"
    )


@pytest.mark.ipc_property("stream.any-chunking", ref="socket(2), unix(7)")
@pytest.mark.parametrize("kind", STREAM, ids=str)
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=16),
    reads=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=8),
)
def test_any_chunking(ipc_record, ipc_tmp_path, kind: PairKind, chunks, reads) -> None:
    """However the sender splits its data into send() calls and however the receiver sizes its
    recv() calls, the concatenation of what is read equals what was sent (socket(2): a
    "sequenced, reliable" byte stream; recv(2) returns "the number of bytes received")."""
    sent = b"".join(chunks)
    got = []
    with kind.open(ipc_tmp_path) as pair:
        for chunk in chunks:
            pair.a.sendall(chunk)
        pair.a.shutdown(socket.SHUT_WR)
        i = 0
        while True:
            size = reads[i % len(reads)]
            i += 1
            data = pair.b.recv(size)
            if not data:
                break
            assert len(data) <= size, f"recv({size}) returned {len(data)} bytes"
            got.append(data)
    ipc_record.observe("last example", {"sends": len(chunks), "recvs": len(got)})
    assert b"".join(got) == sent, f"{kind}: reassembled stream differs from what was sent"


@pytest.mark.ipc_property("stream.eof-on-close", ref="recv(2), unix(7)")
@pytest.mark.parametrize("kind", reversals(STREAM), ids=str)
def test_eof_on_close(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """After the peer closes, recv() first returns the data still queued, then 0 (end of file),
    again on every later call (recv(2): "When a stream socket peer has performed an orderly
    shutdown, the return value will be 0")."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"last words")
        pair.a.close()
        first = pair.b.recv(64, socket.MSG_DONTWAIT)
        eof = [pair.b.recv(64, socket.MSG_DONTWAIT) for _ in range(2)]
    ipc_record.observe("reads after close", [first.decode(), *map(bytes.decode, eof)])
    assert first == b"last words", f"{kind}: queued data lost on close, got {first!r}"
    assert eof == [b"", b""], f"{kind}: expected EOF (b'') twice after the data, got {eof!r}"


@pytest.mark.ipc_property("stream.shutdown-half", ref="shutdown(2)")
@pytest.mark.parametrize("kind", STREAM, ids=str)
def test_shutdown_half(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """shutdown(SHUT_WR) gives the peer EOF while the other direction keeps working: the peer
    can still send and we still receive (shutdown(2): "If how is SHUT_WR, further transmissions
    will be disallowed")."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"request")
        pair.a.shutdown(socket.SHUT_WR)
        request = _recv_to_eof(pair.b)
        pair.b.sendall(b"reply after EOF")
        pair.b.close()
        reply = _recv_to_eof(pair.a)
    ipc_record.observe("peer read", request.decode())
    ipc_record.observe("reply", reply.decode())
    assert request == b"request", f"{kind}: the peer read {request!r} before EOF"
    assert reply == b"reply after EOF", f"{kind}: the reverse direction gave {reply!r}"


def _send_after_eof(sock: socket.socket) -> str:
    """Child: wait for EOF (the parent closed), then send; SIGPIPE (default) should kill us."""
    set_socket_timeouts(sock, 5.0, 5.0)
    if sock.recv(16) != b"":
        return "no EOF"
    sock.send(b"into the void")
    return "send succeeded"


@pytest.mark.ipc_property("stream.epipe", ref="unix(7), send(2), signal(7)")
def test_epipe(ipc_record, ipc_tmp_path, forked_peer) -> None:
    """send() on a stream whose peer has closed raises SIGPIPE, which kills a process with the
    default disposition; with MSG_NOSIGNAL (or SIGPIPE ignored) it fails with EPIPE (send(2):
    EPIPE "The local end has been shut down on a connection oriented socket. In this case, the
    process will also receive a SIGPIPE unless MSG_NOSIGNAL is set")."""
    peer = forked_peer(_send_after_eof, kind="stream")
    peer.sock.close()
    try:
        value = peer.join(timeout=5.0)
        child = f"returned {value!r}"
    except AssertionError as exc:  # PeerDied: killed by a signal
        sig = getattr(exc, "signal", None)
        child = f"killed by {signal.Signals(sig).name}" if sig else str(exc)
    ipc_record.observe("child sending to a closed peer", child)
    assert child == "killed by SIGPIPE", f"the child was not killed by SIGPIPE: {child}"
    with STREAM[0].open(ipc_tmp_path) as pair:
        pair.b.close()
        flags = MSG_NOSIGNAL
        err = outcome(pair.a.send, b"x", flags) if flags else outcome(pair.a.send, b"x")
    ipc_record.observe("send with MSG_NOSIGNAL", err)
    assert err == "EPIPE", f"send to a closed peer with MSG_NOSIGNAL gave {err}"


@pytest.mark.ipc_property("stream.accept-new-fd", ref="accept(2), listen(2)")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
def test_accept_new_fd(ipc_record, ipc_tmp_path, creator: str) -> None:
    """accept() returns a new descriptor for each connection, distinct from the listener, and
    the listening socket keeps accepting (accept(2): "creates a new connected socket ... The
    original socket sockfd is unaffected by this call")."""
    with bound_address(creator, ipc_tmp_path) as address:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        clients = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
        accepted: list[socket.socket] = []
        try:
            listener.bind(address)
            listener.listen(4)
            listener.settimeout(5.0)
            for client in clients:
                client.connect(address)
                accepted.append(listener.accept()[0])
            fds = [listener.fileno(), *(s.fileno() for s in accepted)]
            for i, (client, server) in enumerate(zip(clients, accepted, strict=True)):
                client.sendall(f"client {i}".encode())
                server.settimeout(5.0)
                assert server.recv(64) == f"client {i}".encode(), "connection mixed up"
            still_listening = listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        finally:
            for s in (listener, *clients, *accepted):
                s.close()
    ipc_record.observe("descriptors (listener, accepted...)", fds)
    assert len(set(fds)) == 3, f"accept() did not return new descriptors: {fds}"
    assert still_listening == 1, "the listening socket stopped listening after accept()"


@pytest.mark.ipc_property("stream.client-unbound", ref="unix(7), connect(2)")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
@pytest.mark.parametrize("sock_kind", ["stream", "seqpacket"])
def test_client_unbound(ipc_record, ipc_tmp_path, creator: str, sock_kind: str) -> None:
    """A client connects without bind(): it stays unnamed, so its getsockname() and the accepted
    socket's getpeername() are empty, while its getpeername() is the server's address (unix(7):
    "unnamed: A stream socket that has not been bound to a pathname using bind(2) has no
    name")."""
    stype = socket.SOCK_STREAM if sock_kind == "stream" else socket.SOCK_SEQPACKET
    with bound_address(creator, ipc_tmp_path) as address:
        listener = socket.socket(socket.AF_UNIX, stype)
        client = socket.socket(socket.AF_UNIX, stype)
        server = None
        try:
            listener.bind(address)
            listener.listen(1)
            client.connect(address)
            listener.settimeout(5.0)
            server, from_addr = listener.accept()
            names = {
                "client getsockname": client.getsockname(),
                "client getpeername": client.getpeername(),
                "accepted getpeername": server.getpeername(),
                "accept() address": from_addr,
            }
        finally:
            for s in (listener, client, server):
                if s is not None:
                    s.close()
    ipc_record.observe("addresses", {k: repr(v) for k, v in names.items()})
    assert names["client getpeername"] == address
    for key in ("client getsockname", "accepted getpeername", "accept() address"):
        assert names[key] in ("", None), f"{key} is {names[key]!r}: the client got a name"


@pytest.mark.ipc_property("stream.short-recv-no-trunc", ref="recv(2), unix(7)")
@pytest.mark.parametrize("kind", STREAM, ids=str)
def test_short_recv_no_trunc(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A recv() buffer smaller than the data queued on a stream returns a prefix, does not set
    MSG_TRUNC and loses nothing: the rest is returned by the next recv() (recv(2): MSG_TRUNC is
    set for datagrams "when the datagram was larger than the buffer supplied")."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"0123456789")
        head, _, flags, _ = pair.b.recvmsg(4)
        rest = pair.b.recv(64, socket.MSG_DONTWAIT)
    ipc_record.observe("msg_flags", flags)
    assert head == b"0123", f"{kind}: recvmsg(4) returned {head!r}"
    assert rest == b"456789", f"{kind}: after a short recv the rest was {rest!r}"
    assert not flags & socket.MSG_TRUNC, f"{kind}: MSG_TRUNC set on a stream"


@pytest.mark.ipc_property("stream.zero-send", ref="send(2), unix(7)")
@pytest.mark.parametrize("kind", STREAM, ids=str)
def test_zero_send(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """send() of zero bytes on a stream returns 0 and delivers nothing: the peer's non-blocking
    recv() still finds an empty queue (EAGAIN) and does not see EOF (send(2); a stream has no
    zero-length records, unlike SOCK_DGRAM)."""
    with kind.open(ipc_tmp_path) as pair:
        sent = pair.a.send(b"")
        result = outcome(pair.b.recv, 16, socket.MSG_DONTWAIT)
    ipc_record.observe("send(b'') returned", sent)
    ipc_record.observe("peer recv", result)
    assert sent == 0
    assert result == "EAGAIN", f"{kind}: a zero-length send was seen by the peer ({result})"


@pytest.mark.ipc_property("stream.sendto-eisconn", ref="sendto(2), unix(7)")
@pytest.mark.parametrize("kind", STREAM, ids=str)
def test_sendto_eisconn(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """sendto() with a destination address on a connected stream socket fails with EISCONN
    (sendto(2): EISCONN "The connection-mode socket was connected already but a recipient was
    specified")."""
    with kind.open(ipc_tmp_path) as pair:
        result = outcome(pair.a.sendto, b"x", os.path.join(ipc_tmp_path, "elsewhere"))
    ipc_record.expect(result, portable="EISCONN", linux="EISCONN", freebsd="EISCONN")


@pytest.mark.ipc_property("stream.unconnected-send", ref="send(2), sendto(2), unix(7)")
def test_unconnected_send(ipc_record, ipc_tmp_path) -> None:
    """send() on a stream socket that is not connected fails with ENOTCONN; sendto() with an
    address cannot make a stream connection (send(2): ENOTCONN "The socket is not connected,
    and no target has been given"; Linux: EOPNOTSUPP for sendto() with an address)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        plain = outcome(sock.send, b"x")
        to = outcome(sock.sendto, b"x", os.path.join(ipc_tmp_path, "nobody"))
    to = "EOPNOTSUPP" if to == "ENOTSUP" else to
    ipc_record.observe("send", plain)
    assert plain == "ENOTCONN", f"send on an unconnected stream socket gave {plain}"
    ipc_record.expect(
        to, portable="ENOTCONN", linux="EOPNOTSUPP", note="sendto() with an address, unconnected"
    )


@pytest.mark.ipc_property("stream.partial-send", ref="send(2), unix(7)")
@pytest.mark.parametrize("kind", STREAM, ids=str)
def test_partial_send(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A non-blocking send() larger than the free buffer space is a partial write: it returns
    a count between 1 and the length; the next send() fails with EAGAIN (send(2): "When the
    message does not fit into the send buffer of the socket ... EAGAIN"; POSIX write())."""
    big = b"p" * (4 << 20)
    with kind.open(ipc_tmp_path) as pair:
        sent = pair.a.send(big, socket.MSG_DONTWAIT)
        again = outcome(pair.a.send, big, socket.MSG_DONTWAIT)
    ipc_record.observe("bytes accepted of 4 MiB", sent)
    assert 0 < sent < len(big), f"{kind}: non-blocking send of 4 MiB returned {sent}"
    assert again == "EAGAIN", f"{kind}: send into a full stream gave {again}"


@pytest.mark.ipc_property("stream.waitall", ref="recv(2)")
@pytest.mark.parametrize("kind", STREAM, ids=str)
def test_waitall(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """recv(MSG_WAITALL) waits for the full count when the data comes in several sends, and
    returns less only at end of file (recv(2): MSG_WAITALL "requests that the operation block
    until the full request is satisfied ... may still return less data than requested if ...
    the next data to be received is of a different type than that returned")."""
    pieces = [bytes([65 + i]) * 1000 for i in range(8)]
    with kind.open(ipc_tmp_path) as pair:
        pair.a.sendall(pieces[0])
        sender = _Sender(pair.a, pieces[1:], False)
        sender.start()
        try:
            full = pair.b.recv(8000, socket.MSG_WAITALL)
        finally:
            sender.finish()
        pair.a.send(b"tail")
        pair.a.shutdown(socket.SHUT_WR)
        short = pair.b.recv(100, socket.MSG_WAITALL)
    ipc_record.observe("MSG_WAITALL recv(8000) returned", len(full))
    ipc_record.observe("MSG_WAITALL recv(100) before EOF returned", len(short))
    assert full == b"".join(pieces), f"{kind}: MSG_WAITALL returned {len(full)} of 8000 bytes"
    assert short == b"tail", f"{kind}: MSG_WAITALL at EOF returned {short!r}"


@pytest.mark.ipc_property("stream.peek-across-sends", ref="recv(2), unix(7)")
@pytest.mark.parametrize("kind", STREAM, ids=str)
def test_peek_across_sends(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """MSG_PEEK on a stream returns queued data across send() boundaries, as a normal recv()
    would, and leaves it queued (recv(2): MSG_PEEK "returns data from the beginning of the
    receive queue without removing that data"; Linux since 4.3 peeks across skbs)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"abc")
        pair.a.send(b"def")
        peeked = pair.b.recv(64, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        read = pair.b.recv(64, socket.MSG_DONTWAIT)
    ipc_record.observe("peeked", peeked.decode())
    assert peeked == b"abcdef", f"{kind}: MSG_PEEK returned {peeked!r}"
    assert read == b"abcdef", f"{kind}: data after the peek was {read!r}"


def _oob_expected() -> str:
    release = os.uname().release.split(".")
    try:
        major, minor = int(release[0]), int(release[1].split("-")[0])
    except (IndexError, ValueError):
        return "urgent byte delivered"
    return "urgent byte delivered" if (major, minor) >= (5, 15) else "EOPNOTSUPP"


@pytest.mark.ipc_property("stream.oob", ref="unix(7), send(2), recv(2), tcp(7)")
def test_oob(ipc_record, ipc_tmp_path) -> None:
    """MSG_OOB on an AF_UNIX stream (Linux 5.15+, CONFIG_AF_UNIX_OOB): the last byte of an
    out-of-band send is urgent; recv(MSG_OOB) returns it and the normal stream carries the rest;
    recv(MSG_OOB) with no urgent byte fails with EINVAL, as on TCP (send(2), recv(2), tcp(7)).
    Other systems document nothing for MSG_OOB on AF_UNIX (unverified there)."""
    with STREAM[0].open(ipc_tmp_path) as pair:
        try:
            pair.a.send(b"abc", socket.MSG_OOB)
        except OSError as exc:
            observed = errno_name(exc)
            observed = "EOPNOTSUPP" if observed == "ENOTSUP" else observed
        else:
            urgent = pair.b.recv(1, socket.MSG_OOB | socket.MSG_DONTWAIT)
            normal = pair.b.recv(16, socket.MSG_DONTWAIT)
            none_left = outcome(pair.b.recv, 1, socket.MSG_OOB | socket.MSG_DONTWAIT)
            ipc_record.observe(
                "urgent / normal / second MSG_OOB", [repr(urgent), repr(normal), none_left]
            )
            ok = urgent == b"c" and normal == b"ab" and none_left == "EINVAL"
            observed = "urgent byte delivered" if ok else f"{urgent!r} {normal!r} {none_left}"
    ipc_record.expect(
        observed,
        linux=_oob_expected(),
        note="MSG_OOB on AF_UNIX streams is Linux-only (5.15+)",
    )
