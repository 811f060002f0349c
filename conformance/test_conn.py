"""Connection-oriented AF_UNIX sockets (SOCK_STREAM and SOCK_SEQPACKET): what happens to one
end when the other goes away.  Every property runs over every stream and seqpacket pair kind.
"""

from __future__ import annotations

import socket

import pytest

from pytest_unixipc.pair_kinds import PairKind, bound_address, connection_kinds, outcome

CONNECTED = connection_kinds()
NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)


@pytest.mark.ipc_property("conn.reset-unread", ref="unix(7); Linux af_unix selftest unix_connreset")
@pytest.mark.parametrize("kind", CONNECTED, ids=str)
def test_reset_unread(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """If the peer closes while data we sent is still unread in its receive queue, our next
    recv() fails with ECONNRESET (Linux: the data was lost, unlike an orderly close), and later
    reads see end of file (Linux tools/testing/selftests/net/af_unix/unix_connreset.c; the
    same contrast exists for TCP, see inet.tcp-reset-unread)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.send(b"never read")
        pair.b.close()
        first = outcome(pair.a.recv, 64, socket.MSG_DONTWAIT)
        then = pair.a.recv(64, socket.MSG_DONTWAIT) if first == "ECONNRESET" else b"-"
    ipc_record.observe("the read after that", repr(then))
    ipc_record.expect(first, linux="ECONNRESET", note="recv after the peer closed with unread data")


@pytest.mark.ipc_property("conn.send-after-close", ref="send(2) EPIPE, unix(7)")
@pytest.mark.parametrize("kind", CONNECTED, ids=str)
def test_send_after_close(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """Once the peer has closed, send() fails with EPIPE (here with MSG_NOSIGNAL, so no
    SIGPIPE), while recv() reports end of file (send(2): EPIPE "The local end has been shut down
    on a connection oriented socket"; recv(2))."""
    with kind.open(ipc_tmp_path) as pair:
        pair.b.close()
        sent = outcome(pair.a.send, b"x", NOSIGNAL | socket.MSG_DONTWAIT)
        read = pair.a.recv(64, socket.MSG_DONTWAIT)
    assert sent == "EPIPE", f"{kind}: send after the peer closed gave {sent}"
    assert read == b"", f"{kind}: recv after the peer closed gave {read!r}, expected EOF"


@pytest.mark.ipc_property("conn.connect-twice", ref="connect(2) EISCONN")
@pytest.mark.parametrize("kind", CONNECTED, ids=str)
def test_connect_twice(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A connected stream or seqpacket socket cannot connect again: connect() fails with
    EISCONN, even towards another listening socket, and the connection is unharmed
    (connect(2): "EISCONN The socket is already connected"; "UNIX domain stream sockets may
    successfully connect() only once")."""
    with (
        kind.open(ipc_tmp_path) as pair,
        bound_address("path", ipc_tmp_path) as address,
        socket.socket(socket.AF_UNIX, kind.type) as listener,
    ):
        listener.bind(address)
        listener.listen(1)
        observed = outcome(pair.a.connect, address)
        still = pair.a.send(b"still connected")
        got = pair.b.recv(64, socket.MSG_DONTWAIT)
    assert observed == "EISCONN", f"{kind}: a second connect() gave {observed}"
    assert (still, got) == (15, b"still connected"), "the failed connect() broke the connection"
