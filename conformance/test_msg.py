"""Message-oriented sockets (SOCK_DGRAM and SOCK_SEQPACKET): what both keep about records.

Every property here runs over every dgram and seqpacket pair kind.  The hypothesis properties
generate arbitrary message sizes and receive buffers.
"""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_unixipc.pair_kinds import PairKind, drain, message_kinds, outcome

MESSAGE = message_kinds()
MSG_TRUNC = socket.MSG_TRUNC


def _payload(size: int, seed: int) -> bytes:
    return bytes((seed + i) % 251 for i in range(size))


@pytest.mark.ipc_property("msg.any-sizes", ref="unix(7), socket(2), POSIX recv()")
@pytest.mark.parametrize("kind", MESSAGE, ids=str)
@given(sizes=st.lists(st.integers(min_value=0, max_value=6000), min_size=1, max_size=16))
def test_any_sizes(ipc_record, ipc_tmp_path, kind: PairKind, sizes: list[int]) -> None:
    """For any sequence of message sizes (zero included), sent back to back before anything is
    read, each recv() returns exactly one message, whole and in order (POSIX recv(): "For
    message-based sockets, such as SOCK_DGRAM and SOCK_SEQPACKET, the entire message shall be
    read in a single operation"; unix(7))."""
    messages = [_payload(size, i) for i, size in enumerate(sizes)]
    with kind.open(ipc_tmp_path) as pair:
        for message in messages:
            assert pair.a.send(message) == len(message)
        received = [pair.b.recv(1 << 16, socket.MSG_DONTWAIT) for _ in messages]
        extra = outcome(pair.b.recv, 1 << 16, socket.MSG_DONTWAIT)
    ipc_record.observe("last example sizes", sizes)
    assert [len(m) for m in received] == sizes, f"{kind}: boundaries not kept"
    assert received == messages, f"{kind}: message content changed"
    assert extra == "EAGAIN", f"{kind}: an extra message appeared ({extra})"


@pytest.mark.ipc_property("msg.truncate-any-buffer", ref="recv(2), recvmsg(2), POSIX recv()")
@pytest.mark.parametrize("kind", MESSAGE, ids=str)
@given(size=st.integers(min_value=1, max_value=5000), bufsize=st.integers(0, 6000))
def test_truncate_any_buffer(ipc_record, ipc_tmp_path, kind: PairKind, size, bufsize) -> None:
    """For any message size and any receive buffer size, recvmsg() returns the first
    min(size, buffer) bytes, sets MSG_TRUNC exactly when the buffer was too small, and discards
    the excess: the next recv() returns the next message (recvmsg(2): "MSG_TRUNC indicates that
    the trailing portion of a datagram was discarded"; POSIX recv())."""
    message = _payload(size, size)
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(message)
        pair.a.send(b"marker")
        data, _, flags, _ = pair.b.recvmsg(bufsize)
        following = pair.b.recv(64, socket.MSG_DONTWAIT)
    assert data == message[:bufsize], f"{kind}: recvmsg({bufsize}) of {size} gave {len(data)}"
    assert bool(flags & MSG_TRUNC) == (bufsize < size), (
        f"{kind}: MSG_TRUNC is {bool(flags & MSG_TRUNC)} for buffer {bufsize}, message {size}"
    )
    assert following == b"marker", f"{kind}: the excess was not discarded: {following[:16]!r}"


@pytest.mark.ipc_property("msg.trunc-real-length", ref="recv(2) MSG_TRUNC, unix(7)")
@pytest.mark.parametrize("kind", MESSAGE, ids=str)
def test_trunc_real_length(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """recv() with the MSG_TRUNC flag returns the real length of the message even when the
    buffer is shorter (recv(2): MSG_TRUNC "return the real length of the packet or datagram,
    even when it was longer than the passed buffer"; Linux since 3.4 for AF_UNIX, FreeBSD
    too).  Not in POSIX."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"0123456789")
        buf = bytearray(4)
        n = pair.b.recv_into(buf, 4, MSG_TRUNC)
    ipc_record.observe("returned", n)
    assert bytes(buf) == b"0123"
    ipc_record.expect(str(n), linux="10", freebsd="10", note="recv(4, MSG_TRUNC) of 10 bytes")


@pytest.mark.ipc_property("msg.peek-length", ref="recv(2) MSG_PEEK, MSG_TRUNC")
@pytest.mark.parametrize("kind", MESSAGE, ids=str)
def test_peek_length(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """MSG_PEEK|MSG_TRUNC with a zero-length buffer reports the length of the next message
    without consuming it, so a receiver can size its buffer (recv(2): MSG_PEEK, MSG_TRUNC;
    gVisor RecvmsgMsgTruncMsgPeekZeroLen)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"x" * 1234)
        n, _, _, _ = pair.b.recvmsg_into([bytearray(0)], 0, socket.MSG_PEEK | MSG_TRUNC)
        data = pair.b.recv(4096, socket.MSG_DONTWAIT)
    ipc_record.expect(str(n), linux="1234", freebsd="1234", note="pending length reported")
    assert len(data) == 1234, f"{kind}: the peeked message was consumed or changed"


@pytest.mark.ipc_property("msg.zero-recv-consumes", ref="recv(2), unix(7)")
@pytest.mark.parametrize("kind", MESSAGE, ids=str)
def test_zero_recv_consumes(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A zero-length recvmsg() with a message pending consumes that whole message and sets
    MSG_TRUNC: the next recv() returns the following message (POSIX recv(): the excess bytes
    of a message are discarded; gVisor ZeroLengthRecvPendingMessage)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"swallowed")
        pair.a.send(b"next")
        data, _, flags, _ = pair.b.recvmsg(0)
        following = pair.b.recv(64, socket.MSG_DONTWAIT)
    ipc_record.observe("msg_flags", flags)
    assert data == b""
    assert flags & MSG_TRUNC, f"{kind}: MSG_TRUNC not set by a zero-length read"
    assert following == b"next", f"{kind}: the zero-length read left {following!r}"


@pytest.mark.ipc_property("msg.peek-trunc-flags", ref="recvmsg(2); FreeBSD unix_dgram")
@pytest.mark.parametrize("kind", MESSAGE, ids=str)
def test_peek_trunc_flags(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A truncating MSG_PEEK returns the first bytes and leaves the whole message queued;
    msg_flags carries MSG_TRUNC.  Linux does not echo MSG_PEEK in msg_flags; FreeBSD does
    (recvmsg(2); FreeBSD tests/sys/kern/unix_dgram.c basic)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"0123456789")
        head, _, flags, _ = pair.b.recvmsg(4, 0, socket.MSG_PEEK)
        whole = pair.b.recv(64, socket.MSG_DONTWAIT)
    assert head == b"0123"
    assert whole == b"0123456789", f"{kind}: peek consumed or truncated the message: {whole!r}"
    names = [
        n for n, bit in (("MSG_PEEK", socket.MSG_PEEK), ("MSG_TRUNC", MSG_TRUNC)) if flags & bit
    ]
    ipc_record.expect("|".join(names) or "none", linux="MSG_TRUNC", freebsd="MSG_PEEK|MSG_TRUNC")


@pytest.mark.ipc_property("msg.gather-one-message", ref="sendmsg(2), unix(7)")
@pytest.mark.parametrize("kind", MESSAGE, ids=str)
def test_gather_one_message(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """sendmsg() with several buffers sends one message made of their concatenation, never one
    message per buffer (sendmsg(2): msg_iov is gathered; POSIX sendmsg(): "the data ... shall
    be sent as a single message" on message-based sockets)."""
    parts = [b"alpha", b"", b"beta" * 100, b"gamma"]
    with kind.open(ipc_tmp_path) as pair:
        sent = pair.a.sendmsg(parts)
        received = drain(pair.b)
    ipc_record.observe("messages received", len(received))
    assert sent == sum(map(len, parts))
    assert received == [b"".join(parts)], f"{kind}: {len(received)} messages received"
