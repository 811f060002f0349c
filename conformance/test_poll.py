"""poll(2)/select(2) readiness of AF_UNIX sockets in each state of a connection.

Readiness is sampled with a zero timeout right after the state change: on a local socket the
change is complete when the system call that made it returns, so no wait is needed.  Event
sets are compared as names (POLLIN|POLLOUT|...); POLLRDHUP exists on Linux only.
"""

from __future__ import annotations

import select
import socket

import pytest

from pytest_unixipc import socket_type
from pytest_unixipc.pair_kinds import (
    ADDRESS_CREATORS,
    PairKind,
    all_kinds,
    bound_address,
    drain,
    events_text,
    fill,
    poll_events,
)

ALL = all_kinds()
RDHUP = "|POLLRDHUP" if hasattr(select, "POLLRDHUP") else ""


@pytest.mark.ipc_property("poll.fresh-pair", ref="poll(2), unix(7)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_fresh_pair(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A freshly connected end is writable and not readable: POLLOUT only, no POLLIN, POLLHUP
    or POLLERR (poll(2): POLLIN "There is data to read", POLLOUT "Writing is now possible")."""
    with kind.open(ipc_tmp_path) as pair:
        events = events_text(poll_events(pair.a))
    ipc_record.observe("events", events)
    assert events == "POLLOUT", f"{kind}: a fresh connected end polls as {events}"


@pytest.mark.ipc_property("poll.readable-after-send", ref="poll(2), select(2)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_readable_after_send(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """Once the peer has sent, the end polls POLLIN (and still POLLOUT); select() agrees, and
    after the data is read POLLIN is gone again (poll(2), select(2): "readable ... a read will
    not block")."""
    with kind.open(ipc_tmp_path) as pair:
        pair.b.send(b"data")
        events = events_text(poll_events(pair.a))
        readable, writable, _ = select.select([pair.a], [pair.a], [], 0)
        pair.a.recv(64)
        after = events_text(poll_events(pair.a))
    ipc_record.observe("events with data / after reading", [events, after])
    assert events == "POLLIN|POLLOUT", f"{kind}: with data queued poll gave {events}"
    assert readable == [pair.a], f"{kind}: select() did not report readable"
    assert writable == [pair.a], f"{kind}: select() did not report writable"
    assert after == "POLLOUT", f"{kind}: after reading everything poll gave {after}"


@pytest.mark.ipc_property("poll.full-not-writable", ref="poll(2); FreeBSD unix_stream")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_full_not_writable(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """A socket whose send fails with EAGAIN is not reported writable; after the peer drains
    its queue it is writable again (poll(2): POLLOUT means "Writing is now possible"; FreeBSD
    tests/sys/kern/unix_stream.c full_writability_poll)."""
    with kind.open(ipc_tmp_path) as pair:
        fill(pair.a, b"w" * 1000)
        full = events_text(poll_events(pair.a))
        drain(pair.b)
        drained = events_text(poll_events(pair.a))
    ipc_record.observe("full / drained", [full, drained])
    assert "POLLOUT" not in full, f"{kind}: a full socket polls writable ({full})"
    assert "POLLOUT" in drained, f"{kind}: after the peer drained, poll gave {drained}"


@pytest.mark.ipc_property("poll.peer-closed", ref="poll(2), unix(7); FreeBSD unix_stream")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_peer_closed(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """After the peer closes, a stream or seqpacket end polls readable (EOF) and hung up
    (POLLHUP, and POLLRDHUP on Linux); Linux still sets POLLOUT.  A datagram end has no
    connection to hang up: it stays POLLOUT only (poll(2): POLLHUP "Hang up"; POLLRDHUP
    "Stream socket peer closed connection")."""
    with kind.open(ipc_tmp_path) as pair:
        pair.b.close()
        events = events_text(poll_events(pair.a))
    linux = f"POLLIN|POLLOUT|POLLHUP{RDHUP}" if kind.connection_oriented else "POLLOUT"
    ipc_record.expect(events, linux=linux, note=f"{kind.kind} end after the peer closed")


@pytest.mark.ipc_property("poll.peer-shut-wr", ref="poll(2) POLLRDHUP, shutdown(2)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_peer_shut_wr(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """After the peer's shutdown(SHUT_WR), a stream or seqpacket end is readable (the EOF) and
    reports POLLRDHUP on Linux, but not POLLHUP: the other direction is still open.  A datagram
    end sees no change (poll(2): POLLRDHUP "Stream socket peer closed connection, or shut down
    writing half of connection")."""
    with kind.open(ipc_tmp_path) as pair:
        pair.b.shutdown(socket.SHUT_WR)
        events = events_text(poll_events(pair.a))
    assert "POLLHUP" not in events, f"{kind}: a half-closed connection polls POLLHUP"
    linux = f"POLLIN|POLLOUT{RDHUP}" if kind.connection_oriented else "POLLOUT"
    ipc_record.expect(events, linux=linux, note=f"{kind.kind} end after the peer's SHUT_WR")


@pytest.mark.ipc_property("poll.shut-rdwr-hup", ref="poll(2), shutdown(2)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_shut_rdwr_hup(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """After its own shutdown(SHUT_RDWR) an end polls POLLHUP (both directions are shut), with
    POLLIN (reads return at once); Linux also sets POLLOUT and POLLRDHUP (poll(2); gVisor
    ShutdownWakesHangupOnlyPoller, PollAfterFullShutdown)."""
    with kind.open(ipc_tmp_path) as pair:
        pair.a.shutdown(socket.SHUT_RDWR)
        events = events_text(poll_events(pair.a))
    assert "POLLHUP" in events, f"{kind}: no POLLHUP after SHUT_RDWR ({events})"
    ipc_record.expect(events, linux=f"POLLIN|POLLOUT|POLLHUP{RDHUP}")


@pytest.mark.ipc_property("poll.unconnected-stream", ref="poll(2); FreeBSD unix_stream")
@pytest.mark.parametrize("sock_kind", ["stream", "seqpacket"])
def test_unconnected_stream(ipc_record, sock_kind: str) -> None:
    """A connection-oriented socket that was never connected cannot be written: FreeBSD reports
    it not writable (tests/sys/kern/unix_stream.c unconnected_writability); Linux reports it
    hung up (POLLHUP) and, oddly, writable (POLLOUT), so a poller never sleeps on it; a send()
    still fails with ENOTCONN (poll(2), send(2))."""
    with socket.socket(socket.AF_UNIX, socket_type(sock_kind)) as sock:
        events = events_text(poll_events(sock))
    ipc_record.expect(
        events,
        linux="POLLOUT|POLLHUP",
        note="FreeBSD asserts only that it is not writable",
    )


@pytest.mark.ipc_property("poll.listener-pending", ref="poll(2), accept(2), listen(2)")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
@pytest.mark.parametrize("sock_kind", ["stream", "seqpacket"])
def test_listener_pending(ipc_record, ipc_tmp_path, creator: str, sock_kind: str) -> None:
    """A listening socket is not readable until a connection is pending; then it polls POLLIN
    and accept() does not block; once accepted it is not readable again (accept(2): "In order
    to be notified of incoming connections on a socket, you can use select(2), poll(2)")."""
    stype = socket_type(sock_kind)
    with bound_address(creator, ipc_tmp_path) as address:
        listener = socket.socket(socket.AF_UNIX, stype)
        client = socket.socket(socket.AF_UNIX, stype)
        accepted = None
        try:
            listener.bind(address)
            listener.listen(1)
            idle = poll_events(listener)
            client.connect(address)
            pending = poll_events(listener)
            listener.setblocking(False)
            accepted, _ = listener.accept()
            after = poll_events(listener)
        finally:
            for s in (listener, client, accepted):
                if s is not None:
                    s.close()
    states = [events_text(e) for e in (idle, pending, after)]
    ipc_record.observe("idle / pending / accepted", states)
    assert "POLLIN" not in idle, f"an idle listener polls {events_text(idle)}"
    assert "POLLIN" in pending, f"a listener with a connection pending polls {states[1]}"
    assert "POLLIN" not in after, f"after accept() the listener polls {events_text(after)}"
