"""Passing descriptors with SCM_RIGHTS (unix(7) "Ancillary messages", cmsg(3), sendmsg(2),
recvmsg(2)).

Whether a descriptor is still open *somewhere* (in flight, truncated away, collected) is observed
through a pipe: a pipe's read end reports EOF only once every write end in the system is closed
(pipe(7)), so passing a write end and watching the read end shows, without guessing, when the
kernel has released the passed copies.  Descriptor counts (/proc/self/fd) back that up.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_unixipc import SOCKET_KINDS, Deadline, socket_type, wait_readable
from pytest_unixipc.creds import (
    FdSet,
    SocketSet,
    drop_privileges,
    errno_name,
    fd_is_open,
    open_fd_count,
    outcome,
    rights_cmsg,
    same_open_file,
)

#: Seconds any single wait in this module may take before the test fails.
WAIT = 5.0
#: Upper bound when searching for the largest number of descriptors in one message.
MAX_FDS_SEARCH = 4096


@pytest.fixture
def pair(socks: SocketSet) -> Callable[[str], tuple[socket.socket, socket.socket]]:
    """Make a connected socketpair of a kind, closed at teardown, with a receive timeout."""

    def make(kind: str = "stream") -> tuple[socket.socket, socket.socket]:
        a, b = socket.socketpair(socket.AF_UNIX, socket_type(kind))
        for end in (socks.adopt(a), socks.adopt(b)):
            end.settimeout(WAIT)
        return a, b

    return make


def send_rights(sock: socket.socket, fds: list[int], data: bytes = b"F") -> int:
    """sendmsg() of ``data`` with one SCM_RIGHTS message carrying ``fds``."""
    return sock.sendmsg([data], [rights_cmsg(fds)])


def writers_gone(read_end: int, what: str, kick: Callable[[], None] | None = None) -> None:
    """Wait (bounded) until the pipe's read end reports EOF: no write end is open anywhere.

    ``kick`` is called each time 0.1 s pass without EOF (e.g. to start the in-flight garbage
    collector again); the whole wait is bounded by WAIT seconds.
    """
    deadline = Deadline(WAIT, what)
    while True:
        step = min(0.1, deadline.remaining()) if kick else deadline.remaining()
        try:
            wait_readable(read_end, step, what)
        except TimeoutError:
            if deadline.expired():
                deadline.fail()
            if kick:
                kick()
            continue
        data = os.read(read_end, 64)
        assert data == b"", f"expected EOF on the pipe, read {data!r}"
        return


# -- basics ----------------------------------------------------------------------------------


@pytest.mark.ipc_property("fdpass.scm-rights", ref="unix(7) SCM_RIGHTS; cmsg(3)")
def test_scm_rights(ipc_record, fds: FdSet, fd_channel) -> None:
    """A descriptor sent with SCM_RIGHTS arrives as a new descriptor the receiver can use: a
    passed pipe write end writes into the sender's pipe (unix(7): "Send or receive a set of
    open file descriptors from another process")."""
    r, w = fds.pipe()
    fd_channel.send_fds([w])
    data, received, flags = fd_channel.recv_fds(1)
    ipc_record.observe("received", {"data": data.decode(), "descriptors": len(received)})
    assert len(received) == 1, f"no descriptor arrived (msg_flags={flags:#x})"
    assert same_open_file(received[0], w)
    os.write(received[0], b"via passed fd")
    assert os.read(r, 64) == b"via passed fd"


@pytest.mark.ipc_property("fdpass.socket-types", ref="unix(7) SCM_RIGHTS")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_socket_types(ipc_record, fds: FdSet, pair, kind: str) -> None:
    """Descriptors pass over stream, datagram and seqpacket sockets alike (unix(7) describes
    SCM_RIGHTS for every AF_UNIX socket type; LTP sendmsg01, Linux selftest scm_rights)."""
    a, b = pair(kind)
    r, w = fds.pipe()
    send_rights(a, [w])
    got = fds.receive(b, maxfds=1)
    ipc_record.observe("descriptors received", len(got.fds))
    assert len(got.fds) == 1
    os.write(got.fds[0], kind.encode())
    assert os.read(r, 64) == kind.encode()


def _zero_length_send(pair, fds: FdSet, kind: str) -> str:
    """Send a pipe write end with no data; what the receiver gets, with nothing leaked."""
    a, b = pair(kind)
    r, w = fds.pipe()
    before = open_fd_count()
    sent = send_rights(a, [w], data=b"")
    b.setblocking(False)
    try:
        got = fds.receive(b, maxfds=1)
    except BlockingIOError:
        observed = "discarded"
    else:
        observed = f"delivered ({len(got.fds)} fd, {len(got.data)} bytes)"
        fds.close(*got.fds)
    fds.close(w)
    writers_gone(r, f"release of the descriptor sent on {kind} without data")
    assert open_fd_count() == before - 1, f"{kind}: a descriptor sent without data leaked"
    return f"{kind}: {observed}" + (f" (sendmsg() returned {sent})" if sent else "")


@pytest.mark.ipc_property(
    "fdpass.needs-data", ref="unix(7) SCM_RIGHTS; GV ZeroLengthMessageFDDiscarded"
)
def test_needs_data(ipc_record, fds: FdSet, pair) -> None:
    """On a stream socket SCM_RIGHTS sent with zero bytes of data is not delivered on Linux
    (sendmsg() returns 0 and nothing is queued; unix(7): "you need to send or receive at least
    one byte of nonancillary data in the same sendmsg(2) or recvmsg(2) call"); datagram and
    seqpacket sockets deliver an empty message with the descriptors.  Either way nothing
    leaks."""
    observed = "; ".join(_zero_length_send(pair, fds, kind) for kind in SOCKET_KINDS)
    ipc_record.expect(
        observed,
        linux="stream: discarded; dgram: delivered (1 fd, 0 bytes); "
        "seqpacket: delivered (1 fd, 0 bytes)",
        note="FreeBSD delivers the descriptors of a zero-length stream send (FB "
        "empty_rights_message)",
    )


@pytest.mark.ipc_property("fdpass.same-open-file", ref="unix(7) SCM_RIGHTS: like dup(2); dup(2)")
def test_same_open_file(ipc_record, fds: FdSet, pair, ipc_tmp_path: Path) -> None:
    """Sender's and receiver's descriptors share one open file description: the file offset
    and the status flags (O_APPEND here) set through one are seen through the other,
    while the descriptor flag FD_CLOEXEC is per descriptor (unix(7) SCM_RIGHTS: "equivalent to
    duplicating (dup(2)) a file descriptor into the file descriptor table of another process";
    dup(2))."""
    a, b = pair()
    path = ipc_tmp_path / "shared"
    fd = fds.open(path, os.O_RDWR | os.O_CREAT)
    try:
        send_rights(a, [fd])
        (theirs,) = fds.receive(b, maxfds=1).fds
        os.write(theirs, b"12345")
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        fcntl.fcntl(theirs, fcntl.F_SETFL, fcntl.fcntl(theirs, fcntl.F_GETFL) | os.O_APPEND)
        append = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND)
        os.set_inheritable(fd, False)
        os.set_inheritable(theirs, True)
        cloexec_own = not os.get_inheritable(fd)
    finally:
        path.unlink()
    shared = {"offset after receiver wrote 5 bytes": offset, "O_APPEND set by receiver": append}
    ipc_record.observe("seen by the sender", shared)
    assert shared == {"offset after receiver wrote 5 bytes": 5, "O_APPEND set by receiver": True}
    assert cloexec_own, "FD_CLOEXEC set on one descriptor changed the other"


@pytest.mark.ipc_property("fdpass.new-number", ref="unix(7) SCM_RIGHTS; dup(2) lowest number")
def test_new_number(ipc_record, fds: FdSet, pair) -> None:
    """The receiver gets a descriptor number of its own, the lowest one free in the receiving
    process as for dup(2), generally not the sender's number (unix(7))."""
    a, b = pair()
    r, _w = fds.pipe()
    high = fcntl.fcntl(r, fcntl.F_DUPFD, 200)  # a number far from the lowest free one
    fds.track(high)
    lowest = os.open(os.devnull, os.O_RDONLY)
    os.close(lowest)
    send_rights(a, [high])
    (got,) = fds.receive(b, maxfds=1).fds
    ipc_record.observe("sent number", high)
    ipc_record.observe("received number", got)
    assert got != high
    assert got == lowest, f"received {got}, but the lowest free descriptor was {lowest}"
    assert same_open_file(got, high)


@pytest.mark.ipc_property("fdpass.multiple-ordered", ref="unix(7) SCM_RIGHTS; cmsg(3)")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_multiple_ordered(ipc_record, fds: FdSet, pair, kind: str, ipc_tmp_path: Path) -> None:
    """Several descriptors in one SCM_RIGHTS message arrive together and in the order sent
    (unix(7): "an integer array of the file descriptors")."""
    a, b = pair(kind)
    files = [fds.open(ipc_tmp_path / f"f{i}", os.O_RDWR | os.O_CREAT) for i in range(4)]
    for i in range(4):
        (ipc_tmp_path / f"f{i}").unlink()
    order = [files[2], files[0], files[3], files[1]]
    send_rights(a, order)
    got = fds.receive(b, maxfds=4)
    matches = [same_open_file(x, y) for x, y in zip(order, got.fds, strict=False)]
    ipc_record.observe("received in order", matches)
    assert len(got.fds) == 4
    assert all(matches)


@pytest.mark.ipc_property("fdpass.separate-cmsgs", ref="cmsg(3); CPython testFDPassSeparate")
def test_separate_cmsgs(ipc_record, fds: FdSet, pair) -> None:
    """Two SCM_RIGHTS control messages in one sendmsg() both arrive on Linux and FreeBSD (Linux
    merges them into one); macOS and other BSDs deliver only the first (python/cpython#125860).
    """
    a, b = pair()
    _r1, w1 = fds.pipe()
    _r2, w2 = fds.pipe()
    a.sendmsg([b"F"], [rights_cmsg([w1]), rights_cmsg([w2])])
    got = fds.receive(b, ancbufsize=2 * socket.CMSG_SPACE(4 * 2))
    ipc_record.observe("control messages received", got.cmsg_count)
    same = sorted((same_open_file(fd, w1), same_open_file(fd, w2)) for fd in got.fds)
    if len(got.fds) == 2:
        assert same == [(False, True), (True, False)], "the two descriptors are not w1 and w2"
    ipc_record.expect(
        f"{len(got.fds)} delivered",
        portable="2 delivered",
        linux="2 delivered",
        darwin="1 delivered",
        freebsd="2 delivered",
    )


@pytest.mark.ipc_property("fdpass.bad-fd", ref="sendmsg(2) EBADF; GV BadFDPass")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_bad_fd(ipc_record, fds: FdSet, pair, kind: str) -> None:
    """sendmsg() with a closed descriptor number in SCM_RIGHTS fails with EBADF and sends
    nothing (sendmsg(2), unix(7))."""
    a, b = pair(kind)
    r, _w = fds.pipe()
    closed = fds.dup(r)
    fds.close(closed)
    result = outcome(send_rights, a, [r, closed])
    b.setblocking(False)
    queued = outcome(b.recv, 16)
    ipc_record.observe("sendmsg()", result)
    assert result == "EBADF"
    assert queued == "EAGAIN", "the failed sendmsg() queued data"


@pytest.mark.ipc_property("fdpass.empty-rights", ref="cmsg(3); CPython testFDPassEmpty")
def test_empty_rights(ipc_record, pair) -> None:
    """An SCM_RIGHTS message with no descriptors is accepted and the data arrives with no
    descriptors on Linux; FreeBSD rejects a bare cmsghdr with EINVAL (CPython bpo-24725)."""
    a, b = pair()
    try:
        a.sendmsg([b"E"], [rights_cmsg([])])
    except OSError as exc:
        observed = errno_name(exc)
    else:
        data, ancdata, _flags, _addr = b.recvmsg(16, socket.CMSG_SPACE(16))
        observed = f"data {data.decode()!r}, {len(ancdata)} control messages"
    ipc_record.expect(observed, linux="data 'E', 0 control messages", freebsd="EINVAL")


# -- lifetime --------------------------------------------------------------------------------


def _send_pipe_and_exit(sock: socket.socket) -> str:
    r, w = os.pipe()
    os.write(w, b"written by the sender")
    os.close(w)
    send_rights(sock, [r])
    os.close(r)
    return "sent"


@pytest.mark.ipc_property("fdpass.outlives-sender", ref="unix(7) SCM_RIGHTS")
def test_outlives_sender(ipc_record, fds: FdSet, forked_peer) -> None:
    """A received descriptor stays valid after the sender closed its copy and exited: the
    reference travels in the message (unix(7); FB send_and_close)."""
    peer = forked_peer(_send_pipe_and_exit)
    assert peer.join(WAIT) == "sent"
    peer.sock.settimeout(WAIT)
    (r,) = fds.receive(peer.sock, maxfds=1).fds
    data = os.read(r, 64)
    ipc_record.observe("read through the received descriptor", data.decode())
    assert data == b"written by the sender"
    assert os.read(r, 64) == b""


_UNRELATED_SENDER = textwrap.dedent(
    """
    import array, os, socket, sys
    r, w = os.pipe()
    os.write(w, b"from pid %d" % os.getpid())
    os.close(w)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(sys.argv[1])
        fds = array.array("i", [r]).tobytes()
        sock.sendmsg([b"F"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    print(os.getpid())
    """
)


@pytest.mark.ipc_property("fdpass.unrelated", ref="unix(7) SCM_RIGHTS; pathname sockets")
def test_unrelated(ipc_record, fds: FdSet, socks: SocketSet, unix_socket_path: str) -> None:
    """Processes not related by fork() pass descriptors through a named socket: a separate
    interpreter connects by path, sends a pipe read end and exits; the listener accepts and
    reads what that process wrote (unix(7))."""
    listener = socks.listening(unix_socket_path)
    done = subprocess.run(
        [sys.executable, "-c", _UNRELATED_SENDER, unix_socket_path],
        capture_output=True,
        timeout=WAIT * 2,
        check=False,
    )
    assert done.returncode == 0, f"sender failed: {done.stderr.decode()}"
    listener.settimeout(WAIT)
    conn = socks.accept(listener)
    conn.settimeout(WAIT)
    got = fds.receive(conn, maxfds=1)
    assert len(got.fds) == 1, "the unrelated process's descriptor did not arrive"
    data = os.read(got.fds[0], 64)
    ipc_record.observe("read through the received descriptor", data.decode())
    assert data == b"from pid " + done.stdout.strip()


def _write_through_received(sock: socket.socket) -> int:
    _data, ancdata, _flags, _addr = sock.recvmsg(16, socket.CMSG_SPACE(4))
    (fd,) = [int.from_bytes(d[:4], sys.byteorder) for _lvl, _t, d in ancdata]
    os.write(fd, b"child wrote this")
    os.close(fd)
    return os.getpid()


@pytest.mark.ipc_property("fdpass.pipe-end", ref="unix(7) SCM_RIGHTS; pipe(7)")
def test_pipe_end(ipc_record, fds: FdSet, forked_peer) -> None:
    """A passed pipe write end lets the receiving process write into the sender's pipe; once
    the receiver closes it too, the reader sees EOF (unix(7), pipe(7))."""
    r, w = fds.pipe()
    peer = forked_peer(_write_through_received)
    send_rights(peer.sock, [w])
    fds.close(w)
    child = peer.join(WAIT)
    wait_readable(r, WAIT, "data from the child through the passed pipe end")
    data = os.read(r, 64)
    ipc_record.observe("read from the pipe", data.decode())
    assert data == b"child wrote this"
    writers_gone(r, f"EOF after child {child} closed the passed write end")


@pytest.mark.ipc_property("fdpass.discarded-on-close", ref="unix(7); FB send_and_cancel")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_discarded_on_close(ipc_record, fds: FdSet, pair, kind: str) -> None:
    """Descriptors still in flight when both sockets are closed are released, not leaked: the
    passed pipe write end is closed with the unread message (unix(7); FB send_and_cancel)."""
    a, b = pair(kind)
    r, w = fds.pipe()
    send_rights(a, [w])
    fds.close(w)
    a.close()
    b.close()
    writers_gone(r, "release of a descriptor left unread in a closed socket")
    ipc_record.observe("pipe", "EOF: the in-flight write end was closed")


GC_SHAPES = {"self": 1, "pair": 2, "triangle": 3}


@pytest.mark.ipc_property("fdpass.gc-cycle", ref="unix(7); KS scm_rights self_ref; FB bundle")
@pytest.mark.parametrize("shape", GC_SHAPES)
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_gc_cycle(ipc_record, fds: FdSet, kind: str, shape: str) -> None:
    """In-flight garbage collection: sockets that sit only in each other's receive queues (one
    sent into its own queue, two into each other's, three in a ring) after the process closed
    them are unreachable; the kernel's collector reclaims them and what their queues hold (a
    pipe write end sent along shows it: the pipe reports EOF) (unix(7); Linux selftest
    scm_rights "self_ref", "triangle"; FB unix_passfd "bundle")."""
    r, w = fds.pipe()
    pairs = [socket.socketpair(socket.AF_UNIX, socket_type(kind)) for _ in range(GC_SHAPES[shape])]
    try:
        for i, (a, _b) in enumerate(pairs):
            nxt = pairs[(i + 1) % len(pairs)][1]
            send_rights(a, [nxt.fileno(), w] if i == 0 else [nxt.fileno()])
        fds.close(w)
    finally:
        for _a, b in pairs:
            b.close()  # each b lives on in a queue of the ring...
        for a, _b in pairs:
            a.close()  # ...and releasing the a's starts the collector (Linux: in-flight > 0)

    def kick() -> None:  # any AF_UNIX release while descriptors are in flight runs the GC
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).close()

    writers_gone(r, f"garbage collection of a {shape} cycle of in-flight sockets", kick)
    ipc_record.observe(f"{shape} cycle", "collected: the pipe end in its queue was closed")


@pytest.mark.ipc_property("fdpass.cmsg-cloexec", ref="recvmsg(2) MSG_CMSG_CLOEXEC; unix(7)")
def test_cmsg_cloexec(ipc_record, fds: FdSet, pair) -> None:
    """A received descriptor has FD_CLOEXEC clear, whatever the sender's copy had; recvmsg()
    with MSG_CMSG_CLOEXEC sets it (recvmsg(2): "Set the close-on-exec flag for the file
    descriptor received"; FB simple_send_fd_msg_cmsg_cloexec)."""
    a, b = pair()
    r, _w = fds.pipe()
    os.set_inheritable(r, False)  # FD_CLOEXEC on the sender's copy
    cloexec = {}
    cmsg_cloexec = getattr(socket, "MSG_CMSG_CLOEXEC", None)
    if cmsg_cloexec is None:  # macOS has no MSG_CMSG_CLOEXEC
        ipc_record.expect("MSG_CMSG_CLOEXEC unavailable", linux="default clear, flag sets it")
        return
    for name, flags in (("default", 0), ("MSG_CMSG_CLOEXEC", cmsg_cloexec)):
        send_rights(a, [r])
        (got,) = fds.receive(b, maxfds=1, flags=flags).fds
        cloexec[name] = bool(fcntl.fcntl(got, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    ipc_record.observe("FD_CLOEXEC on the received descriptor", cloexec)
    assert cloexec == {"default": False, "MSG_CMSG_CLOEXEC": True}
    ipc_record.expect(
        "default clear, flag sets it",
        linux="default clear, flag sets it",
        freebsd="default clear, flag sets it",
    )


# -- truncation and limits -------------------------------------------------------------------


@pytest.mark.ipc_property("fdpass.ctrunc", ref="unix(7); recvmsg(2) MSG_CTRUNC")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_ctrunc(ipc_record, fds: FdSet, pair, kind: str) -> None:
    """Too small a control buffer sets MSG_CTRUNC; the descriptors that did not fit are closed,
    not leaked (unix(7): if the buffer "is too small (or is absent), then the ancillary data is
    truncated (or discarded) and the excess file descriptors are automatically closed in the
    receiving process"): the process gains only the delivered ones, and once those are
    closed the pipe whose write ends were sent reports EOF."""
    a, b = pair(kind)
    r, w = fds.pipe()
    copies = [fds.dup(w) for _ in range(5)]
    send_rights(a, copies)
    fds.close(w, *copies)
    before = open_fd_count()
    got = fds.receive(b, ancbufsize=socket.CMSG_SPACE(4))
    gained = open_fd_count() - before
    ipc_record.observe("sent / delivered", f"5 / {len(got.fds)}")
    ipc_record.observe("MSG_CTRUNC", got.ctrunc)
    assert got.ctrunc, "MSG_CTRUNC not set although 5 descriptors did not fit"
    assert 0 < len(got.fds) < 5
    assert gained == len(got.fds), f"gained {gained} descriptors, {len(got.fds)} delivered"
    fds.close(*got.fds)
    writers_gone(r, "closing of the descriptors that did not fit the control buffer")


@pytest.mark.ipc_property(
    "fdpass.no-control-buffer", ref="recvmsg(2) MSG_CTRUNC; GV NoSpaceMsgCtrunc"
)
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_no_control_buffer(ipc_record, fds: FdSet, pair, kind: str) -> None:
    """A receive with no control buffer at all gets the data, and the descriptors are closed:
    Linux sets MSG_CTRUNC (recvmsg(2)); BSDs may leave it clear (CPython test_socket)."""
    a, b = pair(kind)
    r, w = fds.pipe()
    send_rights(a, [w], data=b"data")
    fds.close(w)
    before = open_fd_count()
    got = fds.receive(b, ancbufsize=0)
    assert got.data == b"data"
    assert open_fd_count() == before
    writers_gone(r, "closing of a descriptor received without a control buffer")
    ipc_record.expect(f"MSG_CTRUNC {'set' if got.ctrunc else 'clear'}", linux="MSG_CTRUNC set")


@pytest.mark.ipc_property("fdpass.read-discards", ref="unix(7); GV FDPassInterspersed")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_read_discards(ipc_record, fds: FdSet, pair, kind: str) -> None:
    """read() (no control buffer possible) of a message carrying descriptors returns its data
    and throws the descriptors away, closing them: a later recvmsg() finds none (unix(7))."""
    a, b = pair(kind)
    r, w = fds.pipe()
    send_rights(a, [w], data=b"first")
    a.send(b"second")
    fds.close(w)
    data = os.read(b.fileno(), 5)
    writers_gone(r, "closing of a descriptor discarded by read()")
    rest = fds.receive(b, maxfds=1)
    ipc_record.observe("read() then recvmsg()", [data.decode(), rest.data.decode()])
    assert (data, rest.data, rest.fds) == (b"first", b"second", [])


@pytest.mark.ipc_property(
    "fdpass.stream-read-stops", ref="unix(7); GV ReadsNotCoalescedAfterFDPass"
)
def test_stream_read_stops(ipc_record, fds: FdSet, pair) -> None:
    """On a stream, one read never goes past a send that carried descriptors: data before it
    may merge into the read that returns the descriptors, data after it comes in the next
    read (the descriptors are attached to the bytes of their send; gVisor's
    ReadsNotCoalescedAfterFDPass and FDPassPartialRead assert the same of Linux)."""
    a, b = pair("stream")
    r, _w = fds.pipe()
    a.send(b"1")
    send_rights(a, [r], data=b"2")
    a.send(b"3")
    reads = []
    for _ in range(2):
        got = fds.receive(b, maxfds=1)
        reads.append(f"{got.data.decode()}+{len(got.fds)}fd")
    ipc_record.expect(" / ".join(reads), linux="12+1fd / 3+0fd")


@pytest.mark.ipc_property("fdpass.peek", ref="recv(2) MSG_PEEK; GV FDPassPeek")
def test_peek(ipc_record, fds: FdSet, pair) -> None:
    """MSG_PEEK on a message with descriptors installs copies of them, and the real receive
    installs them again: each is a new descriptor for the same file (GV FDPassPeek)."""
    a, b = pair()
    r, _w = fds.pipe()
    send_rights(a, [r])
    before = open_fd_count()
    peeked = fds.receive(b, maxfds=1, flags=socket.MSG_PEEK)
    taken = fds.receive(b, maxfds=1)
    gained = open_fd_count() - before
    both = peeked.fds + taken.fds
    assert all(same_open_file(fd, r) for fd in both)
    ipc_record.expect(
        f"peek: {len(peeked.fds)} fd; recv: {len(taken.fds)} fd; gained {gained}",
        linux="peek: 1 fd; recv: 1 fd; gained 2",
    )


def _largest_passable(a: socket.socket, b: socket.socket, fd: int, fds: FdSet) -> tuple[int, str]:
    """The most copies of ``fd`` one sendmsg() takes, and the error for one more."""

    def passes(n: int) -> str:
        result = outcome(send_rights, a, [fd] * n)
        if result == "ok":
            got = fds.receive(b, maxfds=n)
            fds.close(*got.fds)
            assert len(got.fds) == n, f"sent {n} descriptors, {len(got.fds)} arrived"
        return result

    if passes(253) == "ok" and passes(254) != "ok":
        return 253, passes(254)
    low, high = 1, MAX_FDS_SEARCH  # passes(low) holds, passes(high) fails (checked below)
    if passes(high) == "ok":
        raise AssertionError(f"{high} descriptors passed in one message: no limit found")
    while high - low > 1:
        middle = (low + high) // 2
        if passes(middle) == "ok":
            low = middle
        else:
            high = middle
    return low, passes(low + 1)


@pytest.mark.ipc_property("fdpass.max-fds", ref="unix(7) SCM_MAX_FD")
def test_max_fds(ipc_record, fds: FdSet, pair) -> None:
    """The number of descriptors in one message is bounded: Linux SCM_MAX_FD is 253 and one
    more fails with EINVAL (unix(7): "Attempting to send an array larger than this limit causes
    sendmsg(2) to fail with the error EINVAL. SCM_MAX_FD has the value 253"); the
    FreeBSD limit depends on the buffer size and gives EMSGSIZE (FB send_a_lot)."""
    a, b = pair()
    r, _w = fds.pipe()
    most, error = _largest_passable(a, b, r, fds)
    ipc_record.limit("SCM_MAX_FD", most, "descriptors per message")
    ipc_record.expect(f"{most}; one more: {error}", linux="253; one more: EINVAL")


def _receive_over_rlimit(sock: socket.socket, spare: int) -> dict[str, object]:
    import resource

    limit = free = 0  # descriptor numbers below ``limit``: exactly ``spare`` of them free
    while free < spare:
        free += not fd_is_open(limit)
        limit += 1
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        data, ancdata, flags, _addr = sock.recvmsg(16, socket.CMSG_SPACE(4 * 16))
    except OSError as exc:
        return {"error": errno_name(exc)}
    count = sum(len(d) // 4 for _lvl, _t, d in ancdata)
    return {"data": data.decode(), "fds": count, "ctrunc": bool(flags & socket.MSG_CTRUNC)}


@pytest.mark.ipc_property("fdpass.rlimit-nofile", ref="recvmsg(2) MSG_CTRUNC; getrlimit(2)")
def test_rlimit_nofile(ipc_record, fds: FdSet, forked_peer) -> None:
    """A receiver that may not open as many descriptors as a message carries (RLIMIT_NOFILE)
    gets the data and as many descriptors as fit, with MSG_CTRUNC, on Linux (unix(7): "the
    excess file descriptors are automatically closed in the receiving process"); FreeBSD fails
    recvmsg() with EMSGSIZE (FB send_a_lot)."""
    r, _w = fds.pipe()
    peer = forked_peer(_receive_over_rlimit, 3)
    send_rights(peer.sock, [r] * 10, data=b"D")
    result = peer.join(WAIT)
    ipc_record.observe("receiver with room for 3 descriptors, 10 sent", result)
    observed = (
        f"{result['fds']} of 10 delivered, MSG_CTRUNC {'set' if result['ctrunc'] else 'clear'}"
        if "fds" in result
        else str(result["error"])
    )
    ipc_record.expect(observed, linux="3 of 10 delivered, MSG_CTRUNC set", freebsd="EMSGSIZE")


# -- what can be passed ----------------------------------------------------------------------


@pytest.mark.ipc_property("fdpass.dgram-sendto", ref="unix(7); sendmsg(2) with msg_name")
def test_dgram_sendto(ipc_record, fds: FdSet, socks: SocketSet, unix_socket_path: str) -> None:
    """An unconnected datagram socket passes descriptors to a bound receiver named in
    sendmsg()'s address, and the receiver learns the sender's address too (unix(7),
    LTP sendmsg01 "rights passing")."""
    receiver = socks.bound(unix_socket_path, "dgram")
    receiver.settimeout(WAIT)
    sender = socks.bound("", "dgram")  # autobind, so that the receiver sees an address
    r, w = fds.pipe()
    sender.sendmsg([b"F"], [rights_cmsg([w])], 0, unix_socket_path)
    got = fds.receive(receiver, maxfds=1)
    ipc_record.observe("sender address seen", repr(got.address))
    assert len(got.fds) == 1
    assert got.address == sender.getsockname()
    os.write(got.fds[0], b"dgram")
    assert os.read(r, 16) == b"dgram"


@pytest.mark.ipc_property("fdpass.listening-socket", ref="unix(7) SCM_RIGHTS; accept(2)")
@pytest.mark.parametrize("kind", ["stream", "seqpacket"])
def test_listening_socket(
    ipc_record, fds: FdSet, socks: SocketSet, pair, unix_socket_path: str, kind: str
) -> None:
    """A listening socket can be passed: the receiver accepts, through its new descriptor, the
    connections made to the original's path (a server hand-off; unix(7))."""
    listener = socks.listening(unix_socket_path, kind)
    a, b = pair()
    send_rights(a, [listener.fileno()])
    (fd,) = fds.receive(b, maxfds=1).fds
    passed = socket.socket(fileno=os.dup(fd))
    socks.adopt(passed)
    client = socks.connected(unix_socket_path, kind)
    passed.settimeout(WAIT)
    conn = socks.accept(passed)
    client.send(b"hand-off")
    conn.settimeout(WAIT)
    listening = passed.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    ipc_record.observe("SO_ACCEPTCONN of the passed socket", listening)
    assert listening == 1
    assert conn.recv(16) == b"hand-off"


@pytest.mark.ipc_property("fdpass.send-self", ref="unix(7) SCM_RIGHTS")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_send_self(ipc_record, fds: FdSet, socks: SocketSet, pair, kind: str) -> None:
    """A socket may pass its own descriptor: the receiver then holds both ends, and what it
    sends through the received copy of the sender comes back to itself (unix(7))."""
    a, b = pair(kind)
    send_rights(a, [a.fileno()])
    (fd,) = fds.receive(b, maxfds=1).fds
    copy = socks.adopt(socket.socket(fileno=os.dup(fd)))
    copy.send(b"loop")
    data = b.recv(16)
    ipc_record.observe("received through the passed copy of the sender", data.decode())
    assert data == b"loop"


def _zero_length_recv(pair, fds: FdSet, kind: str) -> str:
    a, b = pair(kind)
    r, _w = fds.pipe()
    send_rights(a, [r], data=b"x")
    got = fds.receive(b, 0, maxfds=1)
    b.setblocking(False)
    rest = outcome(b.recv, 8)
    trunc = " MSG_TRUNC" if got.msg_flags & socket.MSG_TRUNC else ""
    return f"{kind}: {len(got.fds)} fd{trunc}, byte then {'kept' if rest == 'ok' else rest}"


@pytest.mark.ipc_property("fdpass.zero-length-recv", ref="recvmsg(2); GV ZeroLengthRecvReceivesFD")
def test_zero_length_recv(ipc_record, fds: FdSet, pair) -> None:
    """A recvmsg() with a zero-length data buffer still delivers a pending descriptor; a stream
    keeps the data byte for the next read, datagram and seqpacket sockets consume the message
    and flag MSG_TRUNC (recvmsg(2) MSG_TRUNC; GV ZeroLengthRecvReceivesFD)."""
    observed = "; ".join(_zero_length_recv(pair, fds, kind) for kind in SOCKET_KINDS)
    ipc_record.expect(
        observed,
        linux="stream: 1 fd, byte then kept; dgram: 1 fd MSG_TRUNC, byte then EAGAIN; "
        "seqpacket: 1 fd MSG_TRUNC, byte then EAGAIN",
    )


@pytest.mark.ipc_property("fdpass.cmsg-len-buffer", ref="cmsg(3) CMSG_LEN, CMSG_SPACE")
def test_cmsg_len_buffer(ipc_record, fds: FdSet, pair) -> None:
    """A control buffer of CMSG_LEN(sizeof(int)) bytes, without the trailing padding that
    CMSG_SPACE() adds, still receives one descriptor whole: Linux does not set MSG_CTRUNC for
    the missing padding (cmsg(3); GV BasicFDPassUnalignedRecv, CPython testFDPassCMSG_LEN)."""
    a, b = pair()
    r, _w = fds.pipe()
    send_rights(a, [r])
    got = fds.receive(b, ancbufsize=socket.CMSG_LEN(4))
    ipc_record.expect(
        f"{len(got.fds)} fd, MSG_CTRUNC {'set' if got.ctrunc else 'clear'}",
        linux="1 fd, MSG_CTRUNC clear",
    )


#: SO_PASSRIGHTS (asm-generic/socket.h, Linux 6.16).
SO_PASSRIGHTS = getattr(socket, "SO_PASSRIGHTS", 83 if sys.platform.startswith("linux") else -1)


def _linux_at_least(major: int, minor: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    numbers = os.uname().release.split("-")[0].split(".")
    try:
        return (int(numbers[0]), int(numbers[1])) >= (major, minor)
    except (ValueError, IndexError):
        return False


@pytest.mark.ipc_property("fdpass.passrights-off", ref="SO_PASSRIGHTS, Linux 6.16 (77cbe1a6d873)")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_passrights_off(ipc_record, fds: FdSet, pair, kind: str) -> None:
    """(Linux >= 6.16) A receiver can refuse descriptors: with SO_PASSRIGHTS turned off on it,
    a sendmsg() carrying SCM_RIGHTS to it fails with EPERM while plain data still passes
    (Linux selftest scm_rights "*_disabled"); older kernels reject the option (ENOPROTOOPT)."""
    a, b = pair(kind)
    r, _w = fds.pipe()
    refused = outcome(b.setsockopt, socket.SOL_SOCKET, SO_PASSRIGHTS, 0)
    if refused != "ok":
        observed = f"SO_PASSRIGHTS: {refused}"
    else:
        sent = outcome(send_rights, a, [r])
        a.send(b"plain")
        got = fds.receive(b, 16, maxfds=1)
        observed = f"SCM_RIGHTS: {sent}; plain data: {got.data.decode()}"
    ipc_record.expect(
        observed,
        linux="SCM_RIGHTS: EPERM; plain data: plain"
        if _linux_at_least(6, 16)
        else "SO_PASSRIGHTS: ENOPROTOOPT",
    )


#: RLIMIT_NOFILE given to the sender in fdpass.inflight-limit.
INFLIGHT_RLIMIT = 16


def _fill_in_flight(sock: socket.socket, uid: int, limit: int) -> dict[str, object]:
    import resource

    r, _w = os.pipe()
    drop_privileges(uid, uid)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    sent = 0
    while sent <= 4 * limit:
        result = outcome(send_rights, sock, [r])
        if result != "ok":
            return {"sent": sent, "then": result}
        sent += 1
    return {"sent": sent, "then": "no limit"}


@pytest.mark.ipc_property("fdpass.inflight-limit", ref="unix(7) ETOOMANYREFS; getrlimit(2)")
def test_inflight_limit(ipc_record, forked_peer) -> None:
    """(Linux) A user without CAP_SYS_RESOURCE may have only about RLIMIT_NOFILE descriptors
    "in flight" (sent and not yet received); the next sendmsg() with SCM_RIGHTS fails with
    ETOOMANYREFS (unix(7) ERRORS: "the number of file descriptors that are "in flight" exceeds
    the RLIMIT_NOFILE resource limit").  The sender runs as a uid of its own, so no other
    process's descriptors count against it; Linux refuses once more than the limit are in
    flight, i.e. after limit + 1 messages of one descriptor."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the sender must run as a uid no other process uses")
    uid = 40000 + os.getpid() % 20000
    result = forked_peer(_fill_in_flight, uid, INFLIGHT_RLIMIT).join(WAIT)
    ipc_record.observe(f"sender with RLIMIT_NOFILE {INFLIGHT_RLIMIT}", result)
    if result["then"] != "no limit":
        ipc_record.limit(
            "in-flight descriptors per user",
            result["sent"],
            f"with RLIMIT_NOFILE {INFLIGHT_RLIMIT}",
        )
    ipc_record.expect(
        f"{result['sent']} in flight, then {result['then']}",
        linux=f"{INFLIGHT_RLIMIT + 1} in flight, then ETOOMANYREFS",
    )
