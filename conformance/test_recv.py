"""recv()/send() flags and timeouts on AF_UNIX sockets: MSG_PEEK, MSG_DONTWAIT, O_NONBLOCK,
zero-length receives, SO_RCVTIMEO/SO_SNDTIMEO, scatter/gather and FIONREAD.

Each property runs over every pair kind it applies to.  Blocking is never waited out: the
timeouts under test are a few milliseconds of the kernel's own SO_RCVTIMEO/SO_SNDTIMEO.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import termios
import time

import pytest

from pytest_unixipc.pair_kinds import (
    PairKind,
    all_kinds,
    errno_name,
    fill,
    nonblocking,
    outcome,
    set_socket_timeouts,
    stream_kinds,
)

ALL = all_kinds()
TIMEOUT = 0.01


@pytest.mark.ipc_property("recv.peek", ref="recv(2) MSG_PEEK")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_peek(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """MSG_PEEK returns the data at the head of the queue without removing it: two peeks and
    then a normal recv() all return the same bytes, and the queue is then empty (recv(2):
    MSG_PEEK "causes the receive operation to return data from the beginning of the receive
    queue without removing that data from the queue")."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"peekaboo")
        peeks = [pair.b.recv(64, socket.MSG_PEEK | socket.MSG_DONTWAIT) for _ in range(2)]
        read = pair.b.recv(64, socket.MSG_DONTWAIT)
        empty = outcome(pair.b.recv, 64, socket.MSG_DONTWAIT)
    assert peeks == [b"peekaboo", b"peekaboo"], f"{kind}: peeks returned {peeks}"
    assert read == b"peekaboo", f"{kind}: the read after peeking returned {read!r}"
    assert empty == "EAGAIN", f"{kind}: the queue was not empty after the read ({empty})"


@pytest.mark.ipc_property("recv.dontwait", ref="recv(2) MSG_DONTWAIT")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_dontwait(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """MSG_DONTWAIT makes one recv() on an empty blocking socket fail at once with EAGAIN,
    without changing the socket to non-blocking (recv(2): MSG_DONTWAIT "Enables nonblocking
    operation ... similar to setting O_NONBLOCK ... but is a per-call option")."""
    with kind.open(ipc_tmp_path) as pair:
        start = time.monotonic()
        observed = outcome(pair.b.recv, 64, socket.MSG_DONTWAIT)
        elapsed = time.monotonic() - start
        still_blocking = pair.b.getblocking()
    assert observed == "EAGAIN", f"{kind}: MSG_DONTWAIT recv on an empty socket gave {observed}"
    assert elapsed < 1.0, f"{kind}: MSG_DONTWAIT recv took {elapsed:.3f} s"
    assert still_blocking, f"{kind}: MSG_DONTWAIT changed the socket to non-blocking"


@pytest.mark.ipc_property("recv.nonblocking", ref="socket(7), fcntl(2) O_NONBLOCK, recv(2)")
@pytest.mark.parametrize("kind", nonblocking(ALL), ids=str)
def test_nonblocking(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """On an O_NONBLOCK socket, recv() on an empty queue and send() into a full one fail with
    EAGAIN instead of blocking, with no per-call flag (recv(2), send(2): EAGAIN "The socket is
    marked nonblocking and the requested operation would block")."""
    with kind.open(ipc_tmp_path) as pair:
        empty = outcome(pair.b.recv, 64)
        sent = 0
        full = "no error"
        while sent < 1_000_000:
            try:
                pair.a.send(b"n" * 1000)
            except OSError as exc:
                full = errno_name(exc)
                break
            sent += 1
    ipc_record.observe("sends before full", sent)
    assert empty == "EAGAIN", f"{kind}: recv on an empty non-blocking socket gave {empty}"
    assert full == "EAGAIN", f"{kind}: send on a full non-blocking socket gave {full}"


@pytest.mark.ipc_property("recv.zero-length-empty", ref="recv(2); gVisor ZeroLengthRecvEmptyQueue")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_zero_length_empty(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A zero-length non-blocking receive on an empty queue fails with EAGAIN; it never returns
    0, which would read as end of file or an empty datagram (systemd relies on this; recv(2);
    gVisor ZeroLengthRecvEmptyQueue)."""
    with kind.open(ipc_tmp_path) as pair:
        observed = outcome(pair.b.recvmsg, 0, 0, socket.MSG_DONTWAIT)
    assert observed == "EAGAIN", f"{kind}: a zero-length recv on an empty queue gave {observed}"


@pytest.mark.ipc_property("recv.zero-length-stream-pending", ref="recv(2); gVisor stream tests")
@pytest.mark.parametrize("kind", stream_kinds(), ids=str)
def test_zero_length_stream_pending(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """On a stream with data queued, a zero-length receive returns 0 without MSG_TRUNC and
    consumes nothing: every byte is still there for the next recv() (recv(2); gVisor
    ZeroLengthRecvPendingData)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"keep me")
        data, _, flags, _ = pair.b.recvmsg(0, 0, socket.MSG_DONTWAIT)
        rest = pair.b.recv(64, socket.MSG_DONTWAIT)
    assert data == b""
    assert not flags & socket.MSG_TRUNC, f"{kind}: MSG_TRUNC on a zero-length stream read"
    assert rest == b"keep me", f"{kind}: the zero-length read consumed data: {rest!r}"


@pytest.mark.ipc_property("recv.rcvtimeo", ref="socket(7) SO_RCVTIMEO")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_rcvtimeo(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """With SO_RCVTIMEO set, a blocking recv() on an empty socket waits that long, then fails
    with EAGAIN (socket(7): "If no data has been transferred and the timeout has been reached,
    then -1 is returned with errno set to EAGAIN or EWOULDBLOCK")."""
    with kind.open(ipc_tmp_path, guard_timeout=None) as pair:
        set_socket_timeouts(pair.b, recv=TIMEOUT)
        start = time.monotonic()
        observed = outcome(pair.b.recv, 64)
        waited = time.monotonic() - start
    ipc_record.observe("waited (s)", round(waited, 4))
    assert observed == "EAGAIN", f"{kind}: recv with SO_RCVTIMEO gave {observed}"
    assert TIMEOUT * 0.8 <= waited < 2.0, f"{kind}: recv gave up after {waited:.4f} s"


@pytest.mark.ipc_property("send.sndtimeo", ref="socket(7) SO_SNDTIMEO; FreeBSD unix(4)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_sndtimeo(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """With SO_SNDTIMEO set, a blocking send() into a full socket waits that long, then fails
    with EAGAIN having sent nothing (socket(7): SO_SNDTIMEO).  FreeBSD and macOS datagram
    sockets do not block on a full receiver: they fail at once with ENOBUFS."""
    with kind.open(ipc_tmp_path, guard_timeout=None) as pair:
        fill(pair.a, b"t" * 1000)
        set_socket_timeouts(pair.a, send=TIMEOUT)
        start = time.monotonic()
        observed = outcome(pair.a.send, b"t" * 1000)
        waited = time.monotonic() - start
    ipc_record.observe("waited (s)", round(waited, 4))
    assert waited < 2.0, f"{kind}: send with SO_SNDTIMEO blocked {waited:.3f} s"
    when = "after the timeout" if waited >= TIMEOUT * 0.8 else "at once"
    bsd = "ENOBUFS at once" if kind.kind == "dgram" else "EAGAIN after the timeout"
    ipc_record.expect(
        f"{observed} {when}",
        portable="EAGAIN after the timeout",
        linux="EAGAIN after the timeout",
        freebsd=bsd,
        darwin=bsd,
    )


@pytest.mark.ipc_property("send.dontwait-full", ref="send(2) MSG_DONTWAIT")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_dontwait_full(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """send(MSG_DONTWAIT) into a full socket fails at once with EAGAIN, and the socket stays
    blocking (send(2): MSG_DONTWAIT; EAGAIN "the requested operation would block")."""
    with kind.open(ipc_tmp_path) as pair:
        count, sent = fill(pair.a, b"d" * 1000)
        again = outcome(pair.a.send, b"d", socket.MSG_DONTWAIT)
        still_blocking = pair.a.getblocking()
    ipc_record.observe("bytes queued before EAGAIN", sent)
    assert count > 0, f"{kind}: not even one send fitted"
    assert again == "EAGAIN", f"{kind}: MSG_DONTWAIT send into a full socket gave {again}"
    assert still_blocking


@pytest.mark.ipc_property("recv.scatter-gather", ref="sendmsg(2), recvmsg(2), readv(2)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_scatter_gather(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """sendmsg() gathers its buffers in order and recvmsg() scatters what it reads over its
    buffers in order, filling each before the next (sendmsg(2), recvmsg(2): msg_iov works as
    for writev(2)/readv(2))."""
    parts = [b"12345", b"6789", b"abcdefgh"]
    with kind.open(ipc_tmp_path) as pair:
        pair.a.sendmsg(parts)
        bufs = [bytearray(3), bytearray(6), bytearray(20)]
        n, _, _, _ = pair.b.recvmsg_into(bufs)
    assert n == 17, f"{kind}: recvmsg_into returned {n} of 17 bytes"
    assert [bytes(b) for b in bufs[:2]] == [b"123", b"456789"], f"{kind}: scatter order {bufs}"
    assert bytes(bufs[2][:8]) == b"abcdefgh"


def _fionread(sock: socket.socket) -> int:
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0])


@pytest.mark.ipc_property("ioctl.fionread", ref="unix(7) SIOCINQ, ioctl(2) FIONREAD")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_fionread(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """FIONREAD (SIOCINQ) reports what can be read: 0 when empty; on a stream all queued bytes;
    Linux reports all queued bytes for SOCK_SEQPACKET too, but only the size of the next
    datagram for SOCK_DGRAM (unix(7): "SIOCINQ ... returns the amount of queued unread data in
    the receive buffer"; for dgram "the size of the next pending datagram")."""
    with kind.open(ipc_tmp_path) as pair:
        empty = _fionread(pair.b)
        pair.a.send(b"abc")
        pair.a.send(b"de")
        queued = _fionread(pair.b)
    assert empty == 0, f"{kind}: FIONREAD on an empty socket is {empty}"
    if kind.kind == "stream":
        assert queued == 5, f"{kind}: FIONREAD is {queued} with 5 bytes queued"
    ipc_record.expect(
        str(queued),
        linux="3" if kind.kind == "dgram" else "5",
        note=f"FIONREAD on {kind.kind} after sends of 3 and 2 bytes",
    )
