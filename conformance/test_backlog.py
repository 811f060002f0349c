"""The listen queue: listen(2), accept(2), connect(2) on AF_UNIX stream and seqpacket sockets.

A connection is "pending" once connect() has returned and before accept() takes it.  Blocking
is never detected by waiting: a non-blocking connect() that cannot complete fails at once with
EAGAIN, and a blocking connect() is bounded with SO_SNDTIMEO (socket(7)), which Linux applies to
the wait for room in the listen queue (unix(7)).
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time

import pytest

from pytest_unixipc import Deadline, socket_type
from pytest_unixipc.creds import SocketSet, errno_name, outcome
from pytest_unixipc.server import StreamServer

CONNECTION_KINDS = ("stream", "seqpacket")
#: Backlog values whose effective queue length backlog.queue measures.
BACKLOGS = (0, 1, 2, 5)
#: The backlog whose queue length is the "effective backlog" limit in the report.
LIMIT_BACKLOG = 5
#: More non-blocking connects than this beyond the backlog means the queue is not bounded.
SLACK = 64
#: SO_SNDTIMEO bound on a blocking connect() to a full queue, in seconds.
CONNECT_TIMEOUT = 0.05
#: Seconds any other single wait may take before the test fails.
WAIT = 5.0


def fill_queue(server: StreamServer) -> tuple[int, str]:
    """Connect without blocking until a connect fails: (connects completed, errno name).

    Fails the test if more than ``backlog + SLACK`` connects complete: the queue is unbounded.
    """
    limit = max(server.backlog, 0) + SLACK
    for completed in range(limit + 1):
        try:
            server.connect(nonblocking=True)
        except OSError as exc:
            return completed, errno_name(exc)
    raise AssertionError(
        f"{limit + 1} non-blocking connects completed with listen({server.backlog}) and no "
        "accept(): the listen queue never filled"
    )


def set_timeout(sock: socket.socket, option: int, seconds: float) -> None:
    """SO_SNDTIMEO or SO_RCVTIMEO (a struct timeval): bounds blocking calls (socket(7)).

    Linux applies SO_SNDTIMEO to a connect() waiting for room in the listen queue and
    SO_RCVTIMEO to a blocking accept().
    """
    whole = int(seconds)
    sock.setsockopt(
        socket.SOL_SOCKET,
        option,
        struct.pack("@ll", whole, int((seconds - whole) * 1_000_000)),
    )


def pending(listener: socket.socket) -> bool:
    """Whether the listener reports a pending connection (poll(2) POLLIN), without waiting."""
    poller = select.poll()
    poller.register(listener.fileno(), select.POLLIN)
    return bool(poller.poll(0))


@pytest.mark.ipc_property("backlog.queue", ref="listen(2); unix(7)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_queue(ipc_record, stream_server_factory, kind: str) -> None:
    """With listen(N) and no accept(), only a bounded number of connects complete (listen(2):
    backlog "defines the maximum length to which the queue of pending connections ... may
    grow"); Linux AF_UNIX lets N + 1 wait (it refuses only once the queue is longer than N)."""
    counts = {}
    for backlog in BACKLOGS:
        server = stream_server_factory(kind=kind, backlog=backlog, accept=False)
        counts[backlog], _ = fill_queue(server)
    ipc_record.observe("pending connections by listen() backlog", counts)
    if kind == "stream":
        ipc_record.limit(
            "effective backlog",
            counts[LIMIT_BACKLOG],
            f"pending connections with listen({LIMIT_BACKLOG})",
        )
    ipc_record.expect(
        "; ".join(f"listen({n}): {c}" for n, c in counts.items()),
        linux="; ".join(f"listen({n}): {n + 1}" for n in counts),
        note="Linux AF_UNIX queues backlog + 1 connections",
    )


def _blocking_connect(socks: SocketSet, path: str, kind: str) -> str:
    """What a blocking connect() to a full queue does, bounded by SO_SNDTIMEO."""
    sock = socks.new(kind)
    set_timeout(sock, socket.SO_SNDTIMEO, CONNECT_TIMEOUT)
    start = time.monotonic()
    result = outcome(sock.connect, path)
    waited = time.monotonic() - start
    if result == "EAGAIN" and waited >= CONNECT_TIMEOUT * 0.8:
        return "blocks (EAGAIN after SO_SNDTIMEO)"
    return f"{result} after {waited * 1000:.0f} ms"


@pytest.mark.ipc_property("backlog.overflow", ref="listen(2); connect(2); unix(7)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_overflow(ipc_record, socks: SocketSet, stream_server_factory, kind: str) -> None:
    """The next connect beyond a full listen queue: Linux AF_UNIX blocks, or fails with EAGAIN
    when non-blocking (connect(2): "For nonblocking UNIX domain sockets, the socket is
    nonblocking, and the connection cannot be completed immediately"); the BSDs and macOS
    refuse with ECONNREFUSED, which is also what the course notes claim.  The report shows
    which the platform does; the blocking connect() is bounded with SO_SNDTIMEO."""
    server = stream_server_factory(kind=kind, backlog=1, accept=False)
    completed, nonblocking = fill_queue(server)
    blocking = _blocking_connect(socks, server.path, kind)
    ipc_record.observe("connects before the queue was full", completed)
    ipc_record.expect(
        f"non-blocking: {nonblocking}; blocking: {blocking}",
        portable="non-blocking: ECONNREFUSED; blocking: ECONNREFUSED",
        linux="non-blocking: EAGAIN; blocking: blocks (EAGAIN after SO_SNDTIMEO)",
        darwin="non-blocking: ECONNREFUSED; blocking: ECONNREFUSED",
        freebsd="non-blocking: ECONNREFUSED; blocking: ECONNREFUSED",
        note="course notes: 'Additional clients get ECONNREFUSED'",
    )


@pytest.mark.ipc_property("backlog.accept-drains", ref="listen(2); accept(2)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_accept_drains(ipc_record, socks: SocketSet, stream_server_factory, kind: str) -> None:
    """accept() takes a pending connection off the queue, making room: after it, one more
    connect completes, and the one after fails again (listen(2), accept(2))."""
    server = stream_server_factory(kind=kind, backlog=1, accept=False)
    fill_queue(server)
    socks.accept(server.listener)
    results = [outcome(server.connect, True), outcome(server.connect, True)]
    ipc_record.observe("two connects after one accept()", results)
    assert results[0] == "ok", "no connect completed after accept() took a pending connection"
    assert results[1] != "ok", "accept() of one connection made room for two"


@pytest.mark.ipc_property("backlog.zero", ref="POSIX listen(): backlog 0; listen(2)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_zero(ipc_record, socks: SocketSet, stream_server_factory, kind: str) -> None:
    """listen(0) still accepts connections: POSIX lets a backlog of 0 set "an
    implementation-defined minimum"; Linux AF_UNIX queues one connection."""
    server = stream_server_factory(kind=kind, backlog=0, accept=False)
    completed, failure = fill_queue(server)
    conn = socks.accept(server.listener)
    ipc_record.observe("then", failure)
    assert conn.fileno() >= 0
    ipc_record.expect(f"{completed} pending", linux="1 pending")


@pytest.mark.ipc_property("backlog.relisten", ref="listen(2); KS unix_listen relisten_is_ok")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_relisten(ipc_record, stream_server_factory, kind: str) -> None:
    """listen() may be called again on a listening socket; the new backlog applies to the
    queue from then on (listen(2); Linux selftest unix_listen "relisten_is_ok")."""
    server = stream_server_factory(kind=kind, backlog=0, accept=False)
    first, _ = fill_queue(server)
    server.listener.listen(3)
    more, _ = fill_queue(server)
    assert more > 0, "listen(3) on a listen(0) socket made no room"
    ipc_record.expect(
        f"listen(0): {first}; then listen(3): {more} more",
        linux="listen(0): 1; then listen(3): 3 more",
    )


@pytest.mark.ipc_property("backlog.acceptconn", ref="socket(7) SO_ACCEPTCONN")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_acceptconn(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """SO_ACCEPTCONN turns from 0 to 1 when a bound socket listens (socket(7): "whether or not
    this socket has been marked to accept connections with listen"); sockopt.acceptconn checks
    that connected ends report 0."""
    listener = socks.bound(unix_socket_path, kind)

    def flag(sock: socket.socket) -> int:
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)

    values = {"bound": flag(listener)}
    listener.listen(1)
    values["listening"] = flag(listener)
    ipc_record.observe("SO_ACCEPTCONN", values)
    assert values == {"bound": 0, "listening": 1}


@pytest.mark.ipc_property("backlog.listen-dgram", ref="POSIX listen() EOPNOTSUPP; listen(2)")
@pytest.mark.parametrize("state", ["unbound", "bound"])
def test_listen_dgram(ipc_record, socks: SocketSet, unix_socket_path: str, state: str) -> None:
    """listen() on a datagram socket fails with EOPNOTSUPP (listen(2): "The socket is not of a
    type that supports the listen() operation")."""
    sock = socks.bound(unix_socket_path, "dgram") if state == "bound" else socks.new("dgram")
    result = outcome(sock.listen, 1)
    ipc_record.observe(f"listen() on a {state} dgram socket", result)
    assert result == "EOPNOTSUPP"


@pytest.mark.ipc_property("backlog.listen-unbound", ref="POSIX listen() EDESTADDRREQ; listen(2)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_listen_unbound(ipc_record, socks: SocketSet, kind: str) -> None:
    """listen() on an unbound AF_UNIX socket fails: POSIX says EDESTADDRREQ ("not bound to a
    local address, and the protocol does not support listening on an unbound socket"), Linux
    gives EINVAL (KS unix_listen "unbound_is_einval")."""
    result = outcome(socks.new(kind).listen, 1)
    ipc_record.expect(result, portable="EDESTADDRREQ", linux="EINVAL")


@pytest.mark.ipc_property("backlog.listen-connected", ref="POSIX listen() EINVAL; listen(2)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
@pytest.mark.parametrize("how", ["connect()", "socketpair()"])
def test_listen_connected(
    ipc_record, socks: SocketSet, unix_socket_path: str, kind: str, how: str
) -> None:
    """listen() on a connected socket fails with EINVAL (POSIX listen(): "The socket is already
    connected")."""
    if how == "connect()":
        socks.listening(unix_socket_path, kind)
        sock = socks.connected(unix_socket_path, kind)
    else:
        sock, other = socket.socketpair(socket.AF_UNIX, socks.new(kind).type)
        socks.adopt(sock)
        socks.adopt(other)
    result = outcome(sock.listen, 1)
    ipc_record.observe(f"listen() on a socket connected by {how}", result)
    assert result == "EINVAL"


@pytest.mark.ipc_property("backlog.accept-not-listening", ref="POSIX accept() EINVAL; accept(2)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
@pytest.mark.parametrize("state", ["unbound", "bound"])
def test_accept_not_listening(
    ipc_record, socks: SocketSet, unix_socket_path: str, kind: str, state: str
) -> None:
    """accept() on a socket that is not listening fails with EINVAL, bound or not (accept(2):
    "Socket is not listening for connections")."""
    sock = socks.bound(unix_socket_path, kind) if state == "bound" else socks.new(kind)
    result = outcome(sock.accept)
    ipc_record.observe(f"accept() on a {state} socket", result)
    assert result == "EINVAL"


@pytest.mark.ipc_property("backlog.accept-dgram", ref="POSIX accept() EOPNOTSUPP; accept(2)")
def test_accept_dgram(ipc_record, socks: SocketSet, unix_socket_path: str) -> None:
    """accept() on a datagram socket fails with EOPNOTSUPP (accept(2): "The referenced socket
    is not of type SOCK_STREAM")."""
    result = outcome(socks.bound(unix_socket_path, "dgram").accept)
    ipc_record.observe("accept() on a bound dgram socket", result)
    assert result == "EOPNOTSUPP"


@pytest.mark.ipc_property("backlog.accept-nonblocking", ref="accept(2) EAGAIN; poll(2)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_accept_nonblocking(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """A non-blocking accept() with no pending connection fails with EAGAIN, and poll() shows
    the listener readable (POLLIN) exactly when a connection is pending (accept(2): "the socket
    is marked nonblocking and no connections are present to be accepted")."""
    listener = socks.listening(unix_socket_path, kind)
    listener.setblocking(False)
    steps = {"empty: poll": pending(listener), "empty: accept": outcome(listener.accept)}
    socks.connected(unix_socket_path, kind)
    steps["pending: poll"] = pending(listener)
    socks.accept(listener)
    steps["drained: poll"] = pending(listener)
    steps["drained: accept"] = outcome(listener.accept)
    ipc_record.observe("listener", steps)
    assert steps == {
        "empty: poll": False,
        "empty: accept": "EAGAIN",
        "pending: poll": True,
        "drained: poll": False,
        "drained: accept": "EAGAIN",
    }


@pytest.mark.ipc_property("backlog.send-before-accept", ref="unix(7); FB send_before_accept")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_send_before_accept(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """A client may send as soon as connect() returns, while its connection still waits in the
    listen queue; accept() then returns a socket with the data already readable (on AF_UNIX
    connect() completes without the server; FreeBSD's send_before_accept test calls this an
    "undocumented feature")."""
    listener = socks.listening(unix_socket_path, kind)
    client = socks.connected(unix_socket_path, kind)
    client.sendall(b"early")
    conn = socks.accept(listener)
    conn.settimeout(5.0)
    data = conn.recv(64)
    ipc_record.observe("received after accept()", data.decode())
    assert data == b"early"


@pytest.mark.ipc_property("backlog.listener-close", ref="unix(7); GV UnixStreamListenerCloseTest")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_listener_close(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """Closing a listener with connections still pending resets them: the waiting client's
    recv() fails with ECONNRESET and its send() with EPIPE (unix(7); Linux selftest
    unix_connreset "reset_closed_embryo")."""
    listener = socks.listening(unix_socket_path, kind)
    client = socks.connected(unix_socket_path, kind)
    listener.close()
    client.settimeout(5.0)
    results = {
        "recv()": outcome(client.recv, 16),
        "send()": outcome(client.send, b"x", getattr(socket, "MSG_NOSIGNAL", 0)),
    }
    ipc_record.observe("pending client after the listener closed", results)
    assert results == {"recv()": "ECONNRESET", "send()": "EPIPE"}


@pytest.mark.ipc_property(
    "backlog.listener-shutdown", ref="shutdown(2); accept(2); FB listener_wakeup"
)
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_listener_shutdown(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """shutdown() of a listening socket: Linux allows it and stops the listener (accept() then
    fails with EINVAL and connect() with ECONNREFUSED), which servers use to wake a blocked
    accept(); FreeBSD returns ENOTCONN as POSIX shutdown() describes (FB listener_wakeup)."""
    listener = socks.listening(unix_socket_path, kind)
    down = outcome(listener.shutdown, socket.SHUT_RDWR)
    set_timeout(listener, socket.SO_RCVTIMEO, 0.5)  # a blocking accept(), bounded
    accepted = outcome(listener.accept)
    connected = outcome(socks.new(kind).connect, unix_socket_path)
    after = f"accept: {accepted}; connect: {connected}"
    ipc_record.observe("after shutdown()", after)
    ipc_record.expect(
        f"shutdown: {down}" + (f"; {after}" if down == "ok" else ""),
        portable="shutdown: ENOTCONN",
        linux="shutdown: ok; accept: EINVAL; connect: ECONNREFUSED",
        freebsd="shutdown: ENOTCONN",
    )


@pytest.mark.ipc_property("backlog.connect-completes", ref="unix(7); connect(2) EINPROGRESS")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_connect_completes(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """A non-blocking connect() to a listener with room completes at once: AF_UNIX has no
    handshake, so there is no EINPROGRESS (connect(2) EINPROGRESS applies to sockets that
    "cannot be completed immediately") and the socket is writable and has a peer right away."""
    socks.listening(unix_socket_path, kind)
    sock = socks.new(kind, nonblocking=True)
    result = outcome(sock.connect, unix_socket_path)
    peer = outcome(sock.getpeername)
    ipc_record.observe("getpeername() right after", peer)
    assert peer == "ok"
    ipc_record.expect(result, linux="ok")
    assert os.path.exists(unix_socket_path)


#: connect(2)'s system call number, to recognise a process blocked in connect() through
#: /proc/PID/syscall (proc(5)); machines not listed fall back to the process state alone.
CONNECT_SYSCALL = {"x86_64": "42", "aarch64": "203", "riscv64": "203", "ppc64le": "328"}


def wait_blocked_in_connect(pid: int, timeout: float = 5.0) -> str:
    """Wait until process ``pid`` sleeps inside connect() (proc(5) /proc/PID/syscall, stat).

    Returns how that was established; raises TimeoutError naming what did not happen.  Where
    /proc is missing, returns "unknown" at once (the caller's result then shows what happened).
    """
    if not os.path.exists(f"/proc/{pid}/stat"):
        return "unknown (no /proc)"
    number = CONNECT_SYSCALL.get(os.uname().machine)
    deadline = Deadline(timeout, f"process {pid} blocking in connect()")
    while not deadline.expired():
        try:
            with open(f"/proc/{pid}/stat") as stat_file:
                state = stat_file.read().rsplit(") ", 1)[1][0]
            with open(f"/proc/{pid}/syscall") as syscall_file:
                current = syscall_file.read().split()[0]
        except (OSError, IndexError):
            current, state = "", ""
        if state == "S" and (number is None or current == number):
            return "sleeping in connect()" if number else "sleeping"
        if state in ("Z", "X"):
            return "exited"
        os.sched_yield()
    deadline.fail()


def _blocking_connect_child(sock: socket.socket, path: str, kind: str) -> str:
    with socket.socket(socket.AF_UNIX, socket_type(kind)) as client:
        set_timeout(client, socket.SO_SNDTIMEO, 10.0)  # bounded even if nobody accepts
        result = outcome(client.connect, path)
    return result


@pytest.mark.ipc_property("backlog.blocked-connect-wakes", ref="unix(7); connect(2); accept(2)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_blocked_connect_wakes(
    ipc_record, socks: SocketSet, stream_server_factory, forked_peer, kind: str
) -> None:
    """(Linux) A blocking connect() to a full listen queue sleeps until accept() makes room,
    then completes: the waiting client is woken, not refused (unix(7); the sleep is seen in
    /proc/PID/syscall, proc(5), never guessed with a timer)."""
    server = stream_server_factory(kind=kind, backlog=0, accept=False)
    fill_queue(server)
    peer = forked_peer(_blocking_connect_child, server.path, kind)
    state = wait_blocked_in_connect(peer.pid)
    socks.accept(server.listener)
    result = peer.join(WAIT)
    ipc_record.observe("client before accept()", state)
    ipc_record.expect(
        f"{state}; after accept(): {result}",
        linux="sleeping in connect(); after accept(): ok",
        note="BSDs refuse at once instead (backlog.overflow)",
    )


def _connect_and_tell(socks: SocketSet, path: str, kind: str, label: bytes) -> socket.socket:
    client = socks.connected(path, kind)
    client.sendall(label)
    return client


@pytest.mark.ipc_property("backlog.accept-order", ref="listen(2); accept(2)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_accept_order(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """accept() takes pending connections first in, first out: in the order their connect()
    calls completed (accept(2): "extracts the first connection request on the queue")."""
    listener = socks.listening(unix_socket_path, kind, backlog=8)
    labels = [b"c%d" % i for i in range(5)]
    for label in labels:
        _connect_and_tell(socks, unix_socket_path, kind, label)
    order = []
    for _ in labels:
        conn = socks.accept(listener)
        conn.settimeout(WAIT)
        order.append(conn.recv(8))
    ipc_record.observe("accepted in order", [o.decode() for o in order])
    assert order == labels


@pytest.mark.ipc_property("backlog.accept-closed-client", ref="accept(2); unix(7)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_accept_closed_client(
    ipc_record, socks: SocketSet, unix_socket_path: str, kind: str
) -> None:
    """A pending connection whose client has already sent and closed is still returned by
    accept(): the server reads the data, then end of file (accept(2); unix(7))."""
    listener = socks.listening(unix_socket_path, kind)
    client = _connect_and_tell(socks, unix_socket_path, kind, b"bye")
    client.close()
    conn = socks.accept(listener)
    conn.settimeout(WAIT)
    reads = [conn.recv(16), conn.recv(16)]
    ipc_record.observe("reads after accept()", [r.decode() for r in reads])
    assert reads == [b"bye", b""]
