"""Contrast with Internet sockets, on the loopback interface (127.0.0.1) only.

TCP and UDP over loopback are what AF_UNIX stream and datagram sockets are usually compared
with: the same API, but UDP may drop and TCP resets.  Loopback delivery runs in the kernel's
softirq context, so arrival is waited for with bounded poll() calls, never assumed.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading

import pytest

from pytest_unixipc import Deadline, wait_readable
from pytest_unixipc.pair_kinds import bound_address, outcome

LOOPBACK = ("127.0.0.1", 0)
WAIT = 5.0
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40 if sys.platform.startswith("linux") else None)


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    """A connected TCP pair over loopback (client, accepted); the listener is closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(LOOPBACK)
        listener.listen(1)
        client = socket.create_connection(listener.getsockname(), timeout=WAIT)
        try:
            listener.settimeout(WAIT)
            server, _ = listener.accept()
        except BaseException:
            client.close()
            raise
    client.settimeout(WAIT)
    server.settimeout(WAIT)
    return client, server


def _udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(LOOPBACK)
    except BaseException:
        sock.close()
        raise
    return sock


@pytest.mark.ipc_property("inet.tcp-no-boundaries", ref="tcp(7), socket(2), socket(7) SO_RCVLOWAT")
def test_tcp_no_boundaries(ipc_record) -> None:
    """TCP is a full-duplex byte stream: two sends both queued are returned by one recv(), and
    both directions carry data at once (tcp(7): "reliable, stream-oriented, full-duplex
    connection").  SO_RCVLOWAT makes poll() wait until both sends have arrived."""
    client, server = _tcp_pair()
    with client, server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 12)
        client.sendall(b"first-")
        client.sendall(b"second")
        server.sendall(b"reply")  # the other direction, at the same time
        wait_readable(server.fileno(), WAIT, "both TCP sends arriving (12 bytes)")
        data = server.recv(64, socket.MSG_DONTWAIT)
        wait_readable(client.fileno(), WAIT, "the TCP reply arriving")
        reply = client.recv(64, socket.MSG_DONTWAIT)
    ipc_record.observe("one recv() of two sends", data.decode())
    assert data == b"first-second", f"one recv returned {data!r}: boundaries were kept"
    assert reply == b"reply"


@pytest.mark.ipc_property("inet.udp-boundaries", ref="udp(7)")
def test_udp_boundaries(ipc_record) -> None:
    """UDP keeps datagram boundaries: each recv() returns exactly one datagram, whole (udp(7):
    "UDP is a message oriented protocol ... all receive operations return only one packet")."""
    sizes = [1, 700, 1400, 9000]
    receiver, sender = _udp(), _udp()
    with receiver, sender:
        receiver.settimeout(WAIT)
        for i, size in enumerate(sizes):
            sender.sendto(bytes([i]) * size, receiver.getsockname())
        received = [receiver.recv(65536) for _ in sizes]
    ipc_record.observe("sizes received", [len(d) for d in received])
    assert [len(d) for d in received] == sizes, "UDP datagram boundaries were not kept"
    assert [d[0] for d in received] == list(range(len(sizes))), "loopback UDP reordered"


def _drops(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(data) >= 4:
            return int(struct.unpack("I", data[:4])[0])
    return None


@pytest.mark.ipc_property("inet.udp-unreliable", ref="udp(7), socket(7) SO_RCVBUF, SO_RXQ_OVFL")
def test_udp_unreliable(ipc_record) -> None:
    """UDP drops silently: with a tiny receive buffer and nobody reading, most of 64 datagrams
    of 1000 bytes are lost, yet every sendto() succeeded (udp(7): "UDP ... does not guarantee
    delivery"; socket(7) SO_RCVBUF).  Contrast with dgram.reliable.  After draining, a marker
    datagram is sent; on Linux SO_RXQ_OVFL stamps it with the socket's drop count (socket(7)),
    so received + dropped is checked to equal sent."""
    count, size = 64, 1000
    receiver, sender = _udp(), _udp()
    with receiver, sender:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        if SO_RXQ_OVFL is not None:
            receiver.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        destination = receiver.getsockname()
        results = [sender.sendto(b"u" * size, destination) for _ in range(count)]
        wait_readable(receiver.fileno(), WAIT, "the first loopback datagram arriving")
        received = len(_drain_udp(receiver, size))
        sender.sendto(b"M", destination)  # queued behind any datagram still in flight
        deadline = Deadline(WAIT, "the marker datagram arriving")
        dropped = None
        while True:
            wait_readable(receiver.fileno(), deadline.remaining(), deadline.what)
            data, ancdata, _, _ = receiver.recvmsg(size, socket.CMSG_SPACE(4))
            if data == b"M":
                dropped = _drops(ancdata)
                break
            received += 1
    ipc_record.observe("sent / received / dropped (SO_RXQ_OVFL)", [count, received, dropped])
    assert results == [size] * count, "a sendto() reported an error or a short send"
    assert received < count, f"all {count} datagrams arrived: no drop was shown"
    if SO_RXQ_OVFL is not None and sys.platform.startswith("linux"):
        assert dropped is not None, "SO_RXQ_OVFL reported no drop count on the marker"
        assert received + dropped == count, f"received {received} + dropped {dropped} != {count}"
    ipc_record.expect(
        "dropped silently" if received < count else "none dropped",
        linux="dropped silently",
        freebsd="dropped silently",
        darwin="dropped silently",
    )


def _drain_udp(sock: socket.socket, size: int) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(sock.recv(size, socket.MSG_DONTWAIT))
        except BlockingIOError:
            return out


def _echo_upper(listener: socket.socket, errors: list[BaseException]) -> None:
    """The server half of inet.same-api: identical for AF_UNIX and AF_INET."""
    try:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(WAIT)
            conn.sendall(conn.recv(64).upper())
    except BaseException as exc:
        errors.append(exc)


def _round_trip(family: int, address: object) -> bytes:
    """socket, bind, listen, accept (thread), connect, send, recv: only the address differs."""
    errors: list[BaseException] = []
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.bind(address)
        listener.listen(1)
        listener.settimeout(WAIT)
        server = threading.Thread(target=_echo_upper, args=(listener, errors), daemon=True)
        server.start()
        with socket.socket(family, socket.SOCK_STREAM) as client:
            client.settimeout(WAIT)
            client.connect(listener.getsockname())
            client.sendall(b"same code")
            reply = client.recv(64)
        server.join(WAIT)
    if server.is_alive():
        raise TimeoutError(f"the {family!r} server thread did not finish within {WAIT} s")
    if errors:
        raise AssertionError(f"the {family!r} server failed: {errors[0]!r}") from errors[0]
    return reply


@pytest.mark.ipc_property("inet.same-api", ref="socket(2), bind(2), listen(2), accept(2)")
def test_same_api(ipc_record, ipc_tmp_path) -> None:
    """The same server and client code (socket, bind, listen, accept, connect, send, recv)
    works for AF_UNIX and AF_INET; only the address family and address differ (socket(2):
    the domain selects the protocol family; unix(7), ip(7))."""
    with bound_address("path", ipc_tmp_path) as path:
        unix_reply = _round_trip(socket.AF_UNIX, path)
    inet_reply = _round_trip(socket.AF_INET, LOOPBACK)
    ipc_record.observe("replies", [unix_reply.decode(), inet_reply.decode()])
    assert unix_reply == inet_reply == b"SAME CODE", f"{unix_reply!r} vs {inet_reply!r}"


@pytest.mark.ipc_property("inet.udp-max-size", ref="udp(7), ip(7)")
def test_udp_max_size(ipc_record) -> None:
    """An IPv4 UDP datagram carries at most 65507 bytes (65535 less the IP and UDP headers);
    one byte more fails with EMSGSIZE (udp(7): EMSGSIZE; ip(7)).  Contrast with dgram.max-size,
    which is set by the AF_UNIX send buffer."""
    receiver, sender = _udp(), _udp()
    with receiver, sender:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        largest = outcome(sender.sendto, bytes(65507), receiver.getsockname())
        too_big = outcome(sender.sendto, bytes(65508), receiver.getsockname())
    assert largest == "ok", f"a 65507-byte UDP datagram failed with {largest}"
    assert too_big == "EMSGSIZE", f"a 65508-byte UDP datagram gave {too_big}"


@pytest.mark.ipc_property("inet.tcp-reset-unread", ref="tcp(7), RFC 2525 section 2.17")
def test_tcp_reset_unread(ipc_record) -> None:
    """Closing a TCP socket with unread received data sends a reset: the peer's next recv()
    fails with ECONNRESET instead of seeing end of file (tcp(7): ECONNRESET; RFC 2525 2.17).
    AF_UNIX does the same on Linux (conn.reset-unread)."""
    client, server = _tcp_pair()
    with client, server:
        client.sendall(b"unread by the server")
        wait_readable(server.fileno(), WAIT, "the client's data reaching the server")
        server.close()
        wait_readable(client.fileno(), WAIT, "the reset reaching the client")
        observed = outcome(client.recv, 64)
    ipc_record.expect(
        observed,
        portable="ECONNRESET",
        linux="ECONNRESET",
        freebsd="ECONNRESET",
        darwin="ECONNRESET",
    )


@pytest.mark.ipc_property("inet.udp-truncate", ref="udp(7), recv(2) MSG_TRUNC")
def test_udp_truncate(ipc_record) -> None:
    """A UDP datagram longer than the receive buffer is truncated, MSG_TRUNC is set and the rest
    is discarded, as for AF_UNIX datagrams (udp(7): "MSG_TRUNC ... return the real length of the
    packet"; recv(2))."""
    receiver, sender = _udp(), _udp()
    with receiver, sender:
        receiver.settimeout(WAIT)
        sender.sendto(b"0123456789", receiver.getsockname())
        sender.sendto(b"next", receiver.getsockname())
        head, _, flags, _ = receiver.recvmsg(4)
        following = receiver.recv(64)
    assert head == b"0123"
    assert flags & socket.MSG_TRUNC, "MSG_TRUNC not set on a truncated UDP datagram"
    assert following == b"next", f"after truncation the next read gave {following!r}"


@pytest.mark.ipc_property("inet.udp-connected-filter", ref="udp(7), connect(2)")
def test_udp_connected_filter(ipc_record) -> None:
    """A connected UDP socket only receives from its peer; datagrams from anyone else are
    dropped silently, and their sender sees success (udp(7): "When connect(2) is called ...
    datagrams are received only from that address").  AF_UNIX refuses the sender instead
    (dgram.connected-filters: EPERM on Linux)."""
    target, partner, stranger = _udp(), _udp(), _udp()
    with target, partner, stranger:
        target.connect(partner.getsockname())
        stranger_result = outcome(stranger.sendto, b"stranger", target.getsockname())
        partner.sendto(b"partner", target.getsockname())
        wait_readable(target.fileno(), WAIT, "the partner's datagram arriving")
        first = target.recv(64, socket.MSG_DONTWAIT)
        rest = outcome(target.recv, 64, socket.MSG_DONTWAIT)
    assert stranger_result == "ok", f"the stranger's sendto gave {stranger_result}"
    assert first == b"partner", f"the connected UDP socket received {first!r}"
    assert rest == "EAGAIN", f"another datagram was queued ({rest})"
