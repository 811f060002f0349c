"""SOCK_DGRAM in the UNIX domain: reliable, ordered datagrams that keep their boundaries.

Pair properties run over every dgram pair kind (socketpair, both ends bound to paths, abstract
names on Linux); addressing properties run over the address creators (path, abstract).
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time

import pytest

from pytest_unixipc.pair_kinds import (
    ADDRESS_CREATORS,
    PairKind,
    bound_address,
    count_until_error,
    dgram_kinds,
    drain,
    errno_name,
    fill_numbered,
    fresh_address,
    messages_through,
    numbers_of,
    outcome,
    remove_address,
    set_socket_timeouts,
    short_read,
)

DGRAM = dgram_kinds()
SOCKETPAIR_DGRAM = DGRAM[0]
#: Largest datagram probed by dgram.max-size (a bound on the binary search).
MAX_PROBE = 16 << 20


def _dgram_socket() -> socket.socket:
    return socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)


@pytest.mark.ipc_property("dgram.boundaries", ref="unix(7), socket(2)")
@pytest.mark.parametrize("kind", DGRAM, ids=str)
def test_boundaries(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """Each send() is received by exactly one recv(), whole, even when several are queued and
    the buffer could hold them all (socket(2): SOCK_DGRAM "supports datagrams (connectionless,
    unreliable messages of a fixed maximum length)"; unix(7): UNIX domain datagrams are
    reliable and keep boundaries)."""
    messages = [b"a", b"bb" * 50, b"c" * 5000, b"dd"]
    with kind.open(ipc_tmp_path) as pair:
        received = messages_through(pair, messages)
    ipc_record.observe("sizes received", [len(m) for m in received])
    assert received == messages, f"{kind}: sizes {[len(m) for m in received]} were received"


@pytest.mark.ipc_property("dgram.reliable", ref="unix(7); FreeBSD unix(4); wazuh/wazuh#37349")
@pytest.mark.parametrize("kind", DGRAM, ids=str)
def test_reliable(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """No datagram is silently lost: a non-blocking sender fills the receiver until send()
    fails, then every datagram that send() accepted is read back, numbered and in order
    (unix(7): "in the UNIX domain, datagram sockets are always reliable and don't reorder
    datagrams").  Linux reports the full queue with EAGAIN; FreeBSD and macOS with ENOBUFS."""
    with kind.open(ipc_tmp_path) as pair:
        sent, error = fill_numbered(pair.a, padding=60)
        received = drain(pair.b)
    numbers = numbers_of(received)
    lost = sent - len(received)
    ipc_record.observe("accepted by send()", sent)
    ipc_record.observe("read back", len(received))
    assert numbers == list(range(sent)), f"{kind}: {lost} lost or reordered of {sent}"
    ipc_record.expect(
        f"{error}, none lost",
        portable="EAGAIN, none lost",
        linux="EAGAIN, none lost",
        freebsd="ENOBUFS, none lost",
        darwin="ENOBUFS, none lost",
        note="errno of a send to a full receiver",
    )


@pytest.mark.ipc_property("dgram.ordered", ref="unix(7)")
@pytest.mark.parametrize("kind", DGRAM, ids=str)
def test_ordered(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """Datagrams of varying sizes arrive in the order they were sent (unix(7): UNIX domain
    datagram sockets "don't reorder datagrams")."""
    with kind.open(ipc_tmp_path) as pair:
        for i in range(64):
            pair.a.send(struct.pack("!I", i) + b"z" * (i * 37 % 900))
        numbers = [struct.unpack("!I", m[:4])[0] for m in drain(pair.b)]
    ipc_record.observe("datagrams", len(numbers))
    assert numbers == list(range(64)), f"{kind}: order received {numbers}"


@pytest.mark.ipc_property("dgram.truncate", ref="recv(2), unix(7), socket(7)")
@pytest.mark.parametrize("kind", DGRAM, ids=str)
def test_truncate(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A receive buffer smaller than the datagram gets its first bytes; MSG_TRUNC is set in
    msg_flags and the rest is discarded: the next recv() returns the next datagram (recv(2):
    "MSG_TRUNC indicates that the trailing portion of a datagram was discarded because the
    datagram was larger than the buffer supplied")."""
    with kind.open(ipc_tmp_path) as pair:
        head, flags, following = short_read(pair)
    ipc_record.observe("msg_flags", flags)
    assert head == b"0123", f"{kind}: truncated read returned {head!r}"
    assert flags & socket.MSG_TRUNC, f"{kind}: MSG_TRUNC not set (flags {flags:#x})"
    assert following == b"next", f"{kind}: after truncation the next read gave {following!r}"


@pytest.mark.ipc_property("dgram.zero-length", ref="unix(7), send(2), recv(2)")
@pytest.mark.parametrize("kind", DGRAM, ids=str)
def test_zero_length(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A zero-length datagram is a real message: send() returns 0, one recv() returns b"" and
    consumes it, the next recv() gets the following datagram (recv(2): "Datagram sockets in
    various domains permit zero-length datagrams. When such a datagram is received, the return
    value is 0")."""
    with kind.open(ipc_tmp_path) as pair:
        sent = pair.a.send(b"")
        pair.a.send(b"after")
        first = pair.b.recv(64, socket.MSG_DONTWAIT)
        second = pair.b.recv(64, socket.MSG_DONTWAIT)
        then = outcome(pair.b.recv, 64, socket.MSG_DONTWAIT)
    ipc_record.observe("reads", [first.decode(), second.decode(), then])
    assert sent == 0
    assert (first, second, then) == (b"", b"after", "EAGAIN"), f"{kind}: zero-length datagram"


@pytest.mark.ipc_property("dgram.sendto-many", ref="sendto(2), unix(7)")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
def test_sendto_many(ipc_record, ipc_tmp_path, creator: str) -> None:
    """One unconnected datagram socket sends to several bound receivers with sendto(), each
    receiving exactly the datagram addressed to it (sendto(2): "the address of the target is
    given by dest_addr")."""
    receivers: list[socket.socket] = []
    addresses = []
    sender = _dgram_socket()
    try:
        for _ in range(3):
            address = _fresh(creator, ipc_tmp_path, addresses)
            receivers.append(_dgram_socket())
            receivers[-1].bind(address)
        for i, address in enumerate(addresses):
            sender.sendto(f"to {i}".encode(), address)
        got = [drain(r) for r in receivers]
    finally:
        _close_and_remove([sender, *receivers], addresses)
    ipc_record.observe("received", [[m.decode() for m in g] for g in got])
    assert got == [[f"to {i}".encode()] for i in range(3)], f"misdelivered: {got}"


def _fresh(creator: str, directory, into: list) -> str | bytes:
    address = fresh_address(creator, directory)
    into.append(address)
    return address


def _close_and_remove(socks: list[socket.socket], addresses: list) -> None:
    for s in socks:
        s.close()
    for address in addresses:
        remove_address(address)


@pytest.mark.ipc_property("dgram.sender-address", ref="unix(7), recvfrom(2)")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
def test_sender_address(ipc_record, ipc_tmp_path, creator: str) -> None:
    """recvfrom() on a datagram socket reports the sender's bound address, so the receiver can
    reply with sendto() (recvfrom(2): "the source address of the message is filled in";
    unix(7))."""
    addresses: list = []
    receiver, sender = _dgram_socket(), _dgram_socket()
    try:
        receiver.bind(_fresh(creator, ipc_tmp_path, addresses))
        sender.bind(_fresh(creator, ipc_tmp_path, addresses))
        sender.sendto(b"ping", addresses[0])
        data, source = receiver.recvfrom(64, socket.MSG_DONTWAIT)
        receiver.sendto(b"pong", source)
        reply = sender.recv(64, socket.MSG_DONTWAIT)
    finally:
        _close_and_remove([receiver, sender], addresses)
    ipc_record.observe("source address", repr(source))
    assert data == b"ping"
    assert source == addresses[1], f"recvfrom reported {source!r}, sender bound {addresses[1]!r}"
    assert reply == b"pong", "the reply to the reported address did not arrive"


@pytest.mark.ipc_property("dgram.unbound-sender-address", ref="unix(7), recvfrom(2)")
def test_unbound_sender_address(ipc_record, ipc_tmp_path) -> None:
    """A datagram from an unbound sender carries no address: recvfrom() reports an unnamed
    address (unix(7): "unnamed ... When the address of an unnamed socket is returned, its length
    is sizeof(sa_family_t)"; Python shows this as None or "")."""
    with bound_address("path", ipc_tmp_path) as address:
        receiver, sender = _dgram_socket(), _dgram_socket()
        try:
            receiver.bind(address)
            sender.sendto(b"anon", address)
            _, source = receiver.recvfrom(64, socket.MSG_DONTWAIT)
        finally:
            receiver.close()
            sender.close()
    ipc_record.observe("source", repr(source))
    assert source in (None, ""), f"an unbound sender was reported as {source!r}"


@pytest.mark.ipc_property("dgram.max-size", ref="unix(7), send(2), socket(7)")
def test_max_size(ipc_record) -> None:
    """The largest datagram a socketpair accepts is bounded (Linux: the sender's SO_SNDBUF less
    a small overhead, unix(7)); one byte more fails with EMSGSIZE (send(2): "EMSGSIZE The socket
    type requires that message be sent atomically, and the size of the message to be sent made
    this impossible").  The limit is found by binary search up to 16 MiB."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        sndbuf = a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)

        def fits(size: int) -> bool:
            try:
                a.send(bytes(size), socket.MSG_DONTWAIT)
            except OSError as exc:
                if errno_name(exc) in ("EMSGSIZE", "ENOBUFS"):
                    return False
                raise
            drain(b, MAX_PROBE)
            return True

        low, high = 1, MAX_PROBE
        if fits(high):
            largest = high
        else:
            while high - low > 1:
                middle = (low + high) // 2
                if fits(middle):
                    low = middle
                else:
                    high = middle
            largest = low
        one_more = outcome(a.send, bytes(largest + 1), socket.MSG_DONTWAIT)
    ipc_record.limit("largest datagram", largest, "bytes")
    ipc_record.observe("SO_SNDBUF", sndbuf)
    ipc_record.observe("largest + 1", one_more)
    assert largest < MAX_PROBE, "no upper bound on datagram size found up to 16 MiB"
    assert one_more in ("EMSGSIZE", "ENOBUFS"), f"a datagram one byte too large gave {one_more}"
    ipc_record.expect(one_more, portable="EMSGSIZE", linux="EMSGSIZE", freebsd="EMSGSIZE")


def _max_dgram_qlen() -> int | None:
    try:
        with open("/proc/sys/net/unix/max_dgram_qlen") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


@pytest.mark.ipc_property("dgram.queue-length", ref="unix(7) (max_dgram_qlen), socket(7)")
def test_queue_length(ipc_record, ipc_tmp_path) -> None:
    """How many small datagrams a receiver holds before a non-blocking sender is told to wait.
    A bound receiver fed by unconnected sendto() is limited per receiver (Linux:
    /proc/sys/net/unix/max_dgram_qlen, and one more is admitted: qlen + 1, unix(7)); a connected
    socketpair peer only by the sender's SO_SNDBUF (Linux).  FreeBSD counts bytes
    (net.local.dgram.recvspace) and reports ENOBUFS."""
    with bound_address("path", ipc_tmp_path) as address:
        receiver, sender = _dgram_socket(), _dgram_socket()
        try:
            receiver.bind(address)
            sendto_count, sendto_err = count_until_error(
                sender.sendto, b"q", socket.MSG_DONTWAIT, address
            )
        finally:
            receiver.close()
            sender.close()
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        pair_count, pair_err = count_until_error(a.send, b"q", socket.MSG_DONTWAIT)
    ipc_record.limit("datagram queue length", sendto_count, "datagrams")
    ipc_record.limit("datagram queue length (socketpair)", pair_count, "datagrams")
    ipc_record.observe("errors", {"sendto": sendto_err, "socketpair": pair_err})
    qlen = _max_dgram_qlen()
    ipc_record.observe("max_dgram_qlen", qlen)
    assert sendto_count > 0
    assert pair_count > 0
    linux = f"{qlen + 1} datagrams, then EAGAIN" if qlen is not None else None
    ipc_record.expect(
        f"{sendto_count} datagrams, then {sendto_err}",
        linux=linux,
        note="unconnected sendto() into a bound receiver",
    )


@pytest.mark.ipc_property("dgram.full-blocks", ref="unix(7), socket(7) SO_SNDTIMEO")
def test_full_blocks(ipc_record) -> None:
    """A blocking send() to a full receiver waits (it does not drop): with SO_SNDTIMEO it fails
    with EAGAIN once the timeout expires (socket(7): SO_SNDTIMEO "If no data has been
    transferred and the timeout has been reached, then -1 is returned with errno set to
    EAGAIN").  FreeBSD and macOS return ENOBUFS at once instead of blocking."""
    timeout = 0.01
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        count_until_error(a.send, b"f" * 100, socket.MSG_DONTWAIT)
        set_socket_timeouts(a, send=timeout)
        start = time.monotonic()
        result = outcome(a.send, b"f" * 100)
        waited = time.monotonic() - start
    ipc_record.observe("waited (s)", round(waited, 3))
    behaviour = f"{result} after the timeout" if waited >= timeout * 0.8 else f"{result} at once"
    ipc_record.expect(
        behaviour,
        portable="EAGAIN after the timeout",
        linux="EAGAIN after the timeout",
        freebsd="ENOBUFS at once",
        darwin="ENOBUFS at once",
    )


@pytest.mark.ipc_property("dgram.peer-closed-send", ref="unix(7), send(2)")
@pytest.mark.parametrize("kind", DGRAM, ids=str)
def test_peer_closed_send(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """send() on a connected datagram socket whose peer has closed fails: Linux reports
    ECONNREFUSED once and disconnects the socket, so later sends give ENOTCONN; FreeBSD
    reports ECONNRESET (send(2), unix(7); FreeBSD tests/sys/kern/unix_dgram.c)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.b.close()
        first = outcome(pair.a.send, b"x")
        second = outcome(pair.a.send, b"x")
    ipc_record.observe("second send", second)
    ipc_record.expect(first, linux="ECONNREFUSED", freebsd="ECONNRESET")
    if sys.platform.startswith("linux"):
        assert second == "ENOTCONN", f"{kind}: a second send after the peer closed gave {second}"


@pytest.mark.ipc_property("dgram.no-eof", ref="unix(7), recv(2)")
@pytest.mark.parametrize("kind", DGRAM, ids=str)
def test_no_eof(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """Datagram sockets have no end of file: after the peer closes, queued datagrams are still
    read, then a non-blocking recv() fails with EAGAIN, never returns 0 (recv(2): the value 0
    means an orderly shutdown only for stream sockets)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.b.send(b"queued")
        pair.b.close()
        data = pair.a.recv(64, socket.MSG_DONTWAIT)
        after = outcome(pair.a.recv, 64, socket.MSG_DONTWAIT)
    ipc_record.observe("after the queued datagram", after)
    assert data == b"queued", f"{kind}: queued datagram lost when the peer closed: {data!r}"
    assert after == "EAGAIN", f"{kind}: recv after the peer closed gave {after}"


@pytest.mark.ipc_property("dgram.listen-unsupported", ref="listen(2), accept(2)")
def test_listen_unsupported(ipc_record, ipc_tmp_path) -> None:
    """listen() and accept() are for connection-mode sockets only; on SOCK_DGRAM they fail
    (listen(2): EOPNOTSUPP "The socket is not of a type that supports the listen() operation";
    accept(2): EOPNOTSUPP).  FreeBSD's accept() gives EINVAL."""
    with bound_address("path", ipc_tmp_path) as address, _dgram_socket() as sock:
        sock.bind(address)
        listen = outcome(sock.listen, 1)
        accept = outcome(sock.accept)
    norm = {"ENOTSUP": "EOPNOTSUPP"}
    observed = f"listen {norm.get(listen, listen)}, accept {norm.get(accept, accept)}"
    ipc_record.expect(
        observed,
        portable="listen EOPNOTSUPP, accept EOPNOTSUPP",
        linux="listen EOPNOTSUPP, accept EOPNOTSUPP",
        freebsd="listen EOPNOTSUPP, accept EINVAL",
    )


@pytest.mark.ipc_property("dgram.connected-filters", ref="unix(7), connect(2)")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
def test_connected_filters(ipc_record, ipc_tmp_path, creator: str) -> None:
    """A datagram socket connected to a peer only accepts datagrams from that peer: another
    socket's sendto() to it is refused (Linux: EPERM, unix(7)/connect(2): "If the socket
    sockfd is of type SOCK_DGRAM, then addr is the address ... the only address from which
    datagrams are received")."""
    addresses: list = []
    target, partner, stranger = _dgram_socket(), _dgram_socket(), _dgram_socket()
    try:
        target.bind(_fresh(creator, ipc_tmp_path, addresses))
        partner.bind(_fresh(creator, ipc_tmp_path, addresses))
        target.connect(addresses[1])
        refused = outcome(stranger.sendto, b"stranger", addresses[0])
        partner.sendto(b"partner", addresses[0])
        got = drain(target)
    finally:
        _close_and_remove([target, partner, stranger], addresses)
    ipc_record.observe("received", [m.decode() for m in got])
    assert got == [b"partner"], f"the connected socket received {got}"
    ipc_record.expect(refused, linux="EPERM", note="sendto() to a socket connected elsewhere")


@pytest.mark.ipc_property("dgram.reconnect", ref="connect(2)")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
def test_reconnect(ipc_record, ipc_tmp_path, creator: str) -> None:
    """connect() on a datagram socket may be called again to change its default destination
    (connect(2): "Some protocol sockets (e.g., UNIX domain stream sockets) may successfully
    connect() only once ... datagram sockets may use connect() multiple times to change their
    association")."""
    addresses: list = []
    first, second, sender = _dgram_socket(), _dgram_socket(), _dgram_socket()
    try:
        first.bind(_fresh(creator, ipc_tmp_path, addresses))
        second.bind(_fresh(creator, ipc_tmp_path, addresses))
        sender.connect(addresses[0])
        sender.send(b"one")
        sender.connect(addresses[1])
        sender.send(b"two")
        got = [drain(first), drain(second)]
    finally:
        _close_and_remove([first, second, sender], addresses)
    assert got == [[b"one"], [b"two"]], f"re-targeting connect() failed: {got}"


@pytest.mark.ipc_property("dgram.many-to-one", ref="unix(7), connect(2)")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
def test_many_to_one(ipc_record, ipc_tmp_path, creator: str) -> None:
    """Several datagram sockets connect() to one bound receiver and all their datagrams arrive,
    each with its sender's address; a bound socket may even connect to itself (unix(7);
    FreeBSD tests/sys/kern/unix_dgram.c one2many)."""
    addresses: list = []
    receiver = _dgram_socket()
    senders = [_dgram_socket() for _ in range(3)]
    try:
        receiver.bind(_fresh(creator, ipc_tmp_path, addresses))
        for i, s in enumerate(senders):
            s.bind(_fresh(creator, ipc_tmp_path, addresses))
            s.connect(addresses[0])
            s.send(f"from {i}".encode())
        got = [receiver.recvfrom(64, socket.MSG_DONTWAIT) for _ in senders]
        receiver.connect(addresses[0])  # to itself
        receiver.send(b"self")
        own = receiver.recv(64, socket.MSG_DONTWAIT)
    finally:
        _close_and_remove([receiver, *senders], addresses)
    ipc_record.observe("senders", len(got))
    assert got == [(f"from {i}".encode(), addresses[i + 1]) for i in range(3)], got
    assert own == b"self", f"a socket connected to itself read {own!r}"


@pytest.mark.ipc_property("dgram.sendto-missing", ref="unix(7), sendto(2)")
def test_sendto_missing(ipc_record, ipc_tmp_path) -> None:
    """sendto() to a path that does not exist fails with ENOENT (unix(7): pathname sockets are
    looked up like files; path_resolution(7))."""
    with _dgram_socket() as sock:
        result = outcome(sock.sendto, b"x", os.path.join(ipc_tmp_path, "missing.sock"))
    ipc_record.observe("sendto", result)
    assert result == "ENOENT", f"sendto() to a missing path gave {result}"


@pytest.mark.ipc_property("dgram.sendto-stale", ref="unix(7), sendto(2)")
def test_sendto_stale(ipc_record, ipc_tmp_path) -> None:
    """sendto() to a socket file whose socket is closed (a stale name) fails with ECONNREFUSED
    (unix(7): ECONNREFUSED "The remote address specified by connect(2) was not a listening
    socket"; the same for a datagram destination)."""
    with bound_address("path", ipc_tmp_path) as address, _dgram_socket() as sender:
        with _dgram_socket() as gone:
            gone.bind(address)
        result = outcome(sender.sendto, b"x", address)
    ipc_record.expect(result, portable="ECONNREFUSED", linux="ECONNREFUSED")


@pytest.mark.ipc_property("dgram.unconnected-send", ref="send(2), POSIX send()")
def test_unconnected_send(ipc_record) -> None:
    """send() without a destination on an unconnected datagram socket fails: POSIX says
    EDESTADDRREQ ("The socket is not connection-mode and no peer address is set"); Linux
    AF_UNIX reports ENOTCONN (send(2))."""
    with _dgram_socket() as sock:
        result = outcome(sock.send, b"x")
    ipc_record.expect(result, portable="EDESTADDRREQ", linux="ENOTCONN")


def _shut_wr_then_send(sock: socket.socket) -> str:
    """Child (default SIGPIPE disposition): shut down writing, then try to send."""
    sock.shutdown(socket.SHUT_WR)
    return outcome(sock.send, b"after SHUT_WR")


@pytest.mark.ipc_property("dgram.no-sigpipe", ref="POSIX send(), send(2), unix(7)")
def test_no_sigpipe(ipc_record, forked_peer) -> None:
    """A datagram send() after shutdown(SHUT_WR) fails with EPIPE but raises no SIGPIPE, even in
    a process with the default disposition: POSIX generates SIGPIPE only for SOCK_STREAM and
    SOCK_SEQPACKET (POSIX send(): "if the socket is of type SOCK_STREAM or SOCK_SEQPACKET ...
    the SIGPIPE signal is generated")."""
    peer = forked_peer(_shut_wr_then_send, kind="dgram")
    try:
        observed = f"{peer.join(timeout=5.0)} without SIGPIPE"
    except AssertionError as exc:
        sig = getattr(exc, "signal", None)
        observed = "killed by SIGPIPE" if sig is not None else str(exc)
    ipc_record.expect(observed, portable="EPIPE without SIGPIPE", linux="EPIPE without SIGPIPE")


@pytest.mark.ipc_property("dgram.shutdown-one-sender", ref="shutdown(2), unix(7)")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
def test_shutdown_one_sender(ipc_record, ipc_tmp_path, creator: str) -> None:
    """One sender's shutdown(SHUT_WR) affects only that sender: another socket connected to
    the same bound receiver still delivers, and the receiver reads both senders' earlier
    datagrams (shutdown(2) acts on one socket; gVisor UnboundDgram shutdown tests)."""
    addresses: list = []
    receiver, quitter, other = _dgram_socket(), _dgram_socket(), _dgram_socket()
    try:
        receiver.bind(_fresh(creator, ipc_tmp_path, addresses))
        for sender in (quitter, other):
            sender.connect(addresses[0])
        quitter.send(b"before")
        quitter.shutdown(socket.SHUT_WR)
        refused = outcome(quitter.send, b"after")
        other.send(b"other")
        got = drain(receiver)
    finally:
        _close_and_remove([receiver, quitter, other], addresses)
    ipc_record.observe("received", [m.decode() for m in got])
    assert refused == "EPIPE", f"send after SHUT_WR gave {refused}"
    assert got == [b"before", b"other"], f"the receiver read {got}"
