"""Pipes (pipe(2), pipe(7)), and what every pipe property also says about FIFOs (fifo(7)).

A property that holds for both runs over ``PIPE_CREATORS`` (an anonymous pipe and a FIFO opened
at both ends), as gVisor's pipe tests do with their PipeCreator; the body only sees the ends.
References: pipe(7), POSIX write() ("Write requests of {PIPE_BUF} bytes or less shall not be
interleaved"), LTP testcases/kernel/syscalls/pipe and pipe2, gVisor test/syscalls/linux/pipe.cc.
"""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import select
import signal
import socket
import stat
import sys
import termios
from contextlib import ExitStack

import pytest

from pytest_unixipc import PeerDied, forked_peer, wait_readable
from pytest_unixipc.classic import (
    PIPE_CREATORS,
    PipeCreator,
    errno_name,
    fill_nonblocking,
    os_pipe,
    outcome,
    proc_sys_int,
    reverse_direction,
    wait_sleeping,
)

LINUX = sys.platform.startswith("linux")
BOTH = pytest.mark.parametrize("creator", PIPE_CREATORS, ids=str)
ONLY_PIPE = pytest.mark.parametrize("creator", PIPE_CREATORS[:1], ids=str)


def _pipe_buf(fd: int) -> int:
    return os.fpathconf(fd, "PC_PIPE_BUF")


def _poll(fd: int, events: int) -> int:
    """The revents of one poll(2) with timeout 0 (a snapshot, no waiting)."""
    p = select.poll()
    p.register(fd, events)
    got = p.poll(0)
    return got[0][1] if got else 0


def _flags(mask: int) -> str:
    names = ("POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL")
    return "|".join(n for n in names if mask & getattr(select, n)) or "none"


def _read_all(fd: int, timeout: float, what: str) -> bytes:
    """Read until EOF, each wait bounded by ``timeout``."""
    chunks = []
    while True:
        wait_readable(fd, timeout, what)
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


@pytest.mark.ipc_property("pipe.half-duplex", ref="pipe(2), pipe(7)")
@ONLY_PIPE
def test_half_duplex(ipc_record, creator: PipeCreator) -> None:
    """Data flows one way: write(2) on the read end and read(2) on the write end fail with
    EBADF (pipe(2): "pipefd[0] refers to the read end of the pipe.
    pipefd[1] refers to the write end of the pipe"). FreeBSD
    pipes are bidirectional (FreeBSD tests/sys/kern/pipe/pipe_reverse_test)."""
    with creator.open() as ends:
        observed = reverse_direction(ends.r, ends.w)
    ipc_record.expect(
        observed,
        portable="EBADF",
        linux="EBADF",
        freebsd="bidirectional",
        note="POSIX leaves reverse use of a pipe unspecified; FreeBSD pipes are full duplex",
    )


def _child_read_pipe(sock: socket.socket, r: int) -> bytes:
    wait_readable(r, 5.0, "the parent's bytes in the inherited pipe")
    return os.read(r, 64)


@pytest.mark.ipc_property("pipe.fork-shared", ref="pipe(2), fork(2)")
@BOTH
def test_fork_shared(ipc_record, creator: PipeCreator) -> None:
    """A pipe made before fork() carries bytes from the parent to the child, which inherits
    the descriptors (pipe(2) example; fork(2): "The child inherits copies of the parent's set
    of open file descriptors")."""
    with creator.open() as ends, forked_peer(_child_read_pipe, ends.r, pass_fds=[ends.r]) as peer:
        os.write(ends.w, b"parent to child")
        got = peer.join(timeout=5.0)
    ipc_record.observe("child read", got.decode())
    assert got == b"parent to child", f"the child read {got!r}"


@pytest.mark.ipc_property("pipe.eof", ref="pipe(7), read(2)")
@BOTH
def test_eof(ipc_record, creator: PipeCreator) -> None:
    """Once every write end is closed, read() returns the data still buffered and then 0, end
    of file (pipe(7): "If all file descriptors referring to the write end of a pipe have been
    closed, then an attempt to read(2) from the pipe will see end-of-file")."""
    with creator.open() as ends:
        os.write(ends.w, b"buffered")
        ends.close_write()
        first = os.read(ends.r, 64)
        second = os.read(ends.r, 64)
    ipc_record.observe("reads", [first.decode(), second.decode()])
    assert first == b"buffered", "buffered data was lost when the writer closed"
    assert second == b"", f"read after the data gave {second!r}, not EOF"


@pytest.mark.ipc_property("pipe.epipe", ref="pipe(7), write(2), signal(7)")
@BOTH
def test_epipe(ipc_record, creator: PipeCreator) -> None:
    """write() to a pipe with no reader raises SIGPIPE for the writer and, if that does not
    kill it, fails with EPIPE (pipe(7): "If all file descriptors referring to the read end of a
    pipe have been closed, then a write(2) will cause a SIGPIPE signal to be generated for the
    calling process. If the calling process is ignoring this signal, then write(2) fails with
    the error EPIPE"). SIGPIPE is blocked here, so it stays pending, seen by sigpending()."""
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
    old_handler = signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        with creator.open() as ends:
            ends.close_read()
            result = outcome(os.write, ends.w, b"nobody reads this")
        pending = signal.SIGPIPE in signal.sigpending()
    finally:
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # ignoring discards the pending SIGPIPE
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        signal.signal(signal.SIGPIPE, old_handler)
    ipc_record.observe("write", result)
    ipc_record.observe("SIGPIPE generated", pending)
    assert result == "EPIPE", f"write with no reader gave {result}"
    assert pending, "write with no reader did not generate SIGPIPE"


def _child_write(sock: socket.socket, w: int) -> str:
    os.write(w, b"x")
    return "write returned"


@pytest.mark.ipc_property("pipe.sigpipe-kills", ref="signal(7), pipe(7)")
@BOTH
def test_sigpipe_kills(ipc_record, creator: PipeCreator) -> None:
    """A child with the default SIGPIPE disposition that writes to a pipe without readers dies
    of SIGPIPE (signal(7): SIGPIPE "Broken pipe: write to pipe with no readers", default
    action Term)."""
    with creator.open() as ends:
        ends.close_read()
        with (
            forked_peer(_child_write, ends.w, pass_fds=[ends.w]) as peer,
            pytest.raises(PeerDied) as died,
        ):
            peer.join(timeout=5.0)
    ipc_record.observe("child", str(died.value))
    assert died.value.signal == signal.SIGPIPE, f"the child was not killed by SIGPIPE: {died.value}"


def _child_records(sock: socket.socket, w: int, byte: int, count: int, size: int) -> int:
    sock.settimeout(5.0)
    if sock.recv(1) != b"g":
        raise AssertionError("no go signal")
    record = bytes([byte]) * size
    for _ in range(count):
        n = os.write(w, record)
        if n != size:
            raise AssertionError(f"blocking write of {size} returned {n}")
    return count


@pytest.mark.ipc_property("pipe.atomic-pipe-buf", ref="POSIX write(), pipe(7)")
@BOTH
def test_atomic_pipe_buf(ipc_record, creator: PipeCreator) -> None:
    """Writes of at most PIPE_BUF bytes by several processes at once are never interleaved
    (POSIX write(): "Write requests of {PIPE_BUF} bytes or less shall not be interleaved with
    data from other processes doing writes on the same pipe"; pipe(7)). Four forked writers
    each write PIPE_BUF-byte records of their own byte, all at once; every PIPE_BUF-aligned
    chunk the reader gets must be one writer's record, whole."""
    writers, records = 4, 16
    with creator.open() as ends, ExitStack() as stack:
        size = _pipe_buf(ends.w)
        peers = [
            stack.enter_context(
                forked_peer(_child_records, ends.w, 0x41 + i, records, size, pass_fds=[ends.w])
            )
            for i in range(writers)
        ]
        ends.close_write()  # EOF comes when every writer has exited
        for peer in peers:
            peer.sock.sendall(b"g")
        data = _read_all(ends.r, 5.0, "records from the concurrent writers")
        for peer in peers:
            assert peer.join(timeout=5.0) == records
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    torn = [i for i, c in enumerate(chunks) if len(c) != size or c.count(c[:1]) != size]
    ipc_record.observe("writers x records", f"{writers} x {records} of {size} bytes")
    if creator.name == "pipe":
        ipc_record.limit("PIPE_BUF", size, "bytes")
    assert len(data) == writers * records * size, f"got {len(data)} bytes"
    assert not torn, f"records {torn[:5]} are interleaved (mixed bytes within PIPE_BUF)"
    counts = sorted(data.count(bytes([0x41 + i])) for i in range(writers))
    assert counts == [records * size] * writers


@pytest.mark.ipc_property("pipe.byte-stream", ref="pipe(7)")
@BOTH
def test_byte_stream(ipc_record, creator: PipeCreator) -> None:
    """A pipe keeps no message boundaries: two writes are returned by one read (pipe(7): "The
    communication channel provided by a pipe is a byte stream: there is no concept of message
    boundaries")."""
    with creator.open() as ends:
        os.write(ends.w, b"one")
        os.write(ends.w, b"two")
        got = os.read(ends.r, 64)
    ipc_record.observe("one read", got.decode())
    assert got == b"onetwo", f"one read returned {got!r}: boundaries were kept"


@pytest.mark.ipc_property("pipe.nonblock-full", ref="pipe(7), write(2)")
@BOTH
def test_nonblock_full(ipc_record, creator: PipeCreator) -> None:
    """An O_NONBLOCK write to a full pipe fails with EAGAIN (pipe(7), PIPE_BUF: "O_NONBLOCK
    enabled, n <= PIPE_BUF: If there is room to write n bytes to the pipe, then write(2) succeeds
    immediately, writing all n bytes; otherwise write(2) fails, with errno set to EAGAIN"; LTP
    pipe12, write04)."""
    with creator.open() as ends:
        filled = fill_nonblocking(ends.w, 1)
        os.set_blocking(ends.w, False)
        result = outcome(os.write, ends.w, b"x")
    ipc_record.observe("bytes before EAGAIN", filled)
    assert filled > 0
    assert result == "EAGAIN", f"write to a full non-blocking pipe gave {result}"


@pytest.mark.ipc_property("pipe.nonblock-empty", ref="pipe(7), read(2)")
@BOTH
def test_nonblock_empty(ipc_record, creator: PipeCreator) -> None:
    """An O_NONBLOCK read of an empty pipe whose writer is still open fails with EAGAIN, not
    0 (read(2): "EAGAIN The file descriptor fd refers to a file other than a socket and has
    been marked nonblocking (O_NONBLOCK), and the read would block"; LTP read03)."""
    with creator.open() as ends:
        os.set_blocking(ends.r, False)
        result = outcome(os.read, ends.r, 1)
    ipc_record.observe("read", result)
    assert result == "EAGAIN", f"a non-blocking read of an empty pipe gave {result}"


@pytest.mark.ipc_property("pipe.capacity", ref="pipe(7), fcntl(2) F_GETPIPE_SZ")
@BOTH
def test_capacity(ipc_record, creator: PipeCreator) -> None:
    """The pipe capacity, measured by filling it non-blocking until EAGAIN, is reported; on
    Linux it equals F_GETPIPE_SZ, 16 pages (65536 bytes) by default (pipe(7): "Since Linux
    2.6.11, the pipe capacity is 16 pages ... 65,536 bytes")."""
    with creator.open() as ends:
        measured = fill_nonblocking(ends.w, _pipe_buf(ends.w))
        reported = getattr(fcntl, "F_GETPIPE_SZ", None)
        size = fcntl.fcntl(ends.w, reported) if reported is not None else None
    ipc_record.observe("measured", measured)
    if creator.name == "pipe":
        ipc_record.limit("pipe capacity", measured, "bytes")
    if size is None:
        observed = "no F_GETPIPE_SZ"
    elif size == measured:
        observed = "measured equals F_GETPIPE_SZ"
    else:
        observed = f"measured {measured}, F_GETPIPE_SZ {size}"
    ipc_record.observe("pages", measured / os.sysconf("SC_PAGE_SIZE"))
    ipc_record.expect(observed, linux="measured equals F_GETPIPE_SZ")
    assert measured >= 512, f"capacity {measured} is below _POSIX_PIPE_BUF"


@pytest.mark.ipc_property("pipe.access-modes", ref="pipe(2), fcntl(2) F_GETFL")
@ONLY_PIPE
def test_access_modes(ipc_record, creator: PipeCreator) -> None:
    """pipe(2)'s read end is open O_RDONLY and its write end O_WRONLY (F_GETFL; gVisor
    pipe.cc Flags)."""
    names = {os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY", os.O_RDWR: "O_RDWR"}
    with creator.open() as ends:
        modes = [names[fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE] for fd in ends]
    ipc_record.expect("/".join(modes), portable="O_RDONLY/O_WRONLY", linux="O_RDONLY/O_WRONLY")


@pytest.mark.ipc_property("pipe.same-inode", ref="fstat(2), pipe(7)")
@BOTH
def test_same_inode(ipc_record, creator: PipeCreator) -> None:
    """Both ends are the same S_IFIFO object: fstat() gives one inode and type FIFO (gVisor
    pipe.cc Inode; inode(7): S_IFIFO)."""
    with creator.open() as ends:
        st_r, st_w = os.fstat(ends.r), os.fstat(ends.w)
    ipc_record.observe("inode", st_r.st_ino)
    assert stat.S_ISFIFO(st_r.st_mode), "the read end is not S_IFIFO"
    assert stat.S_ISFIFO(st_w.st_mode), "the write end is not S_IFIFO"
    assert (st_r.st_dev, st_r.st_ino) == (st_w.st_dev, st_w.st_ino), "the ends differ"


@pytest.mark.ipc_property("pipe.espipe", ref="lseek(2), pread(2)")
@BOTH
def test_espipe(ipc_record, creator: PipeCreator) -> None:
    """A pipe cannot seek: lseek(), pread() and pwrite() fail with ESPIPE (lseek(2): "ESPIPE fd
    is associated with a pipe, socket, or FIFO"; pread(2); LTP lseek02)."""
    with creator.open() as ends:
        results = {
            "lseek": outcome(os.lseek, ends.r, 0, os.SEEK_CUR),
            "pread": outcome(os.pread, ends.r, 1, 0),
            "pwrite": outcome(os.pwrite, ends.w, b"x", 0),
        }
    ipc_record.observe("results", results)
    assert results == dict.fromkeys(results, "ESPIPE")


def _child_hold_writer(sock: socket.socket, w: int) -> str:
    sock.settimeout(5.0)
    sock.recv(1)  # hold the write end until told
    os.close(w)
    return "closed"


@pytest.mark.ipc_property("pipe.eof-all-writers", ref="pipe(7)")
@BOTH
def test_eof_all_writers(ipc_record, creator: PipeCreator) -> None:
    """EOF needs *every* write end closed: while a forked child still holds a copy, the reader
    sees no EOF (EAGAIN non-blocking); after it closes, read() returns 0 (pipe(7): "If all file
    descriptors referring to the write end ... have been closed")."""
    with creator.open() as ends, forked_peer(_child_hold_writer, ends.w, pass_fds=[ends.w]) as p:
        ends.close_write()
        os.set_blocking(ends.r, False)
        while_held = outcome(os.read, ends.r, 1)
        p.sock.sendall(b"c")
        assert p.join(timeout=5.0) == "closed"
        os.set_blocking(ends.r, True)
        wait_readable(ends.r, 5.0, "EOF after the child closed its write end")
        after = os.read(ends.r, 1)
    ipc_record.observe("read while the child holds a writer", while_held)
    assert while_held == "EAGAIN", f"read gave {while_held} while a writer was open elsewhere"
    assert after == b"", f"read gave {after!r} after the last writer closed"


def _child_blocked_reader(sock: socket.socket, r: int) -> int:
    sock.sendall(b"r")
    return len(os.read(r, 16))  # blocks until the last writer closes


@pytest.mark.ipc_property("pipe.readers-wake", ref="pipe(7), LTP pipe13")
@BOTH
def test_readers_wake(ipc_record, creator: PipeCreator) -> None:
    """Readers blocked on an empty pipe are all woken with 0 (EOF) when the last writer
    closes (pipe(7); LTP pipe13; gVisor WriterSideCloses)."""
    with creator.open() as ends, ExitStack() as stack:
        peers = [
            stack.enter_context(forked_peer(_child_blocked_reader, ends.r, pass_fds=[ends.r]))
            for _ in range(3)
        ]
        for peer in peers:
            wait_readable(peer.sock.fileno(), 5.0, f"reader pid {peer.pid} starting")
            peer.sock.recv(1)
            wait_sleeping(peer.pid, 5.0, f"reader pid {peer.pid} blocking in read()")
        ends.close_write()
        results = [peer.join(timeout=5.0) for peer in peers]
    ipc_record.observe("bytes each reader got", results)
    assert results == [0, 0, 0]


@pytest.mark.ipc_property("pipe.pipe-buf-no-partial", ref="POSIX write(), pipe(7)")
@BOTH
def test_pipe_buf_no_partial(ipc_record, creator: PipeCreator) -> None:
    """A non-blocking write of at most PIPE_BUF bytes with less room than that fails with
    EAGAIN; it is never partial (POSIX write(): "If the O_NONBLOCK flag is set ... A write
    request for {PIPE_BUF} or fewer bytes shall have the following effect: if there is
    sufficient space available in the pipe, write() shall transfer all the data ... Otherwise,
    write() shall transfer no data and return -1 with errno set to [EAGAIN]")."""
    with creator.open() as ends:
        size = _pipe_buf(ends.w)
        fill_nonblocking(ends.w, size)
        os.read(ends.r, 10)  # 10 bytes of room, fewer than PIPE_BUF
        os.set_blocking(ends.w, False)
        try:
            result = f"wrote {os.write(ends.w, b'p' * size)}"
        except BlockingIOError:
            result = "EAGAIN"
    ipc_record.observe("write of PIPE_BUF with 10 bytes free", result)
    assert result == "EAGAIN", f"a PIPE_BUF write into too little room gave {result}"


@pytest.mark.ipc_property("pipe.large-write-partial", ref="POSIX write(), pipe(7)")
@BOTH
def test_large_write_partial(ipc_record, creator: PipeCreator) -> None:
    """A non-blocking write of more than PIPE_BUF bytes when some room is free transfers what
    fits and returns that count (POSIX write(): "A write request for more than {PIPE_BUF} bytes
    shall cause one of the following: When at least one byte can be written, transfer what it
    can and return the number of bytes written")."""
    with creator.open() as ends:
        capacity = fill_nonblocking(ends.w, _pipe_buf(ends.w))
        os.read(ends.r, capacity)  # empty again
        os.set_blocking(ends.w, False)
        want = capacity + _pipe_buf(ends.w)
        written = os.write(ends.w, b"L" * want)
    ipc_record.observe("written of requested", f"{written} of {want}")
    assert 0 < written < want, f"wrote {written} of {want}"


@pytest.mark.ipc_property("pipe.pipe-buf-min", ref="fpathconf(3), limits.h _POSIX_PIPE_BUF")
@BOTH
def test_pipe_buf_min(ipc_record, creator: PipeCreator) -> None:
    """fpathconf(fd, _PC_PIPE_BUF) is at least _POSIX_PIPE_BUF, 512 (POSIX limits.h; pipe(7):
    "POSIX.1 requires PIPE_BUF to be at least 512 bytes. (On Linux, PIPE_BUF is 4096
    bytes.)"). FreeBSD and macOS define PIPE_BUF as 512 in <sys/syslimits.h>."""
    with creator.open() as ends:
        values = {_pipe_buf(ends.r), _pipe_buf(ends.w)}
    ipc_record.observe("PC_PIPE_BUF", sorted(values))
    assert len(values) == 1, "the two ends disagree"
    assert min(values) >= 512
    ipc_record.expect(str(values.pop()), linux="4096", freebsd="512", darwin="512")


@pytest.mark.ipc_property("pipe.setpipe-sz", ref="fcntl(2) F_SETPIPE_SZ, pipe(7)")
@BOTH
def test_setpipe_sz(ipc_record, creator: PipeCreator) -> None:
    """(Linux) F_SETPIPE_SZ on either end sets the capacity of the one pipe, rounded up to a
    power-of-two number of pages, and returns it (fcntl(2): "the kernel may use a capacity
    larger than arg"). Other systems have no F_SETPIPE_SZ."""
    setsz = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsz is None:
        ipc_record.expect("no F_SETPIPE_SZ", linux="rounded up to pages, same from both ends")
        return
    page = os.sysconf("SC_PAGE_SIZE")
    with creator.open() as ends:
        got = fcntl.fcntl(ends.w, setsz, page + 1)
        seen_from_r = fcntl.fcntl(ends.r, fcntl.F_GETPIPE_SZ)
        measured = fill_nonblocking(ends.w, 1)
    ipc_record.observe("asked, got, filled", [page + 1, got, measured])
    ok = got >= page + 1 and got % page == 0 and seen_from_r == got == measured
    ipc_record.expect(
        "rounded up to pages, same from both ends" if ok else f"{got}/{seen_from_r}/{measured}",
        linux="rounded up to pages, same from both ends",
    )


@pytest.mark.ipc_property("pipe.setpipe-sz-limits", ref="fcntl(2) F_SETPIPE_SZ, pipe(7)")
@ONLY_PIPE
def test_setpipe_sz_limits(ipc_record, creator: PipeCreator) -> None:
    """(Linux) F_SETPIPE_SZ below the bytes already queued fails with EBUSY; a size too large
    to round (over 2**31) with EINVAL; above /proc/sys/fs/pipe-max-size an unprivileged caller
    gets EPERM (fcntl(2) F_SETPIPE_SZ errors; pipe(7) /proc/sys/fs/pipe-max-size)."""
    setsz = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsz is None:
        ipc_record.expect("no F_SETPIPE_SZ", linux="EBUSY/EINVAL")
        return
    page = os.sysconf("SC_PAGE_SIZE")
    max_size = proc_sys_int("fs/pipe-max-size")
    with creator.open() as ends:
        os.write(ends.w, b"b" * (2 * page))  # two pages queued
        shrink = outcome(fcntl.fcntl, ends.w, setsz, page)
        huge = outcome(fcntl.fcntl, ends.w, setsz, 2**31 + 1)
        above = outcome(fcntl.fcntl, ends.r, setsz, 2 * max_size) if max_size else "n/a"
    if max_size is not None:
        ipc_record.limit("pipe max size", max_size, "bytes")
    ipc_record.observe("above pipe-max-size", f"{above} (euid {os.geteuid()})")
    ipc_record.expect(f"{shrink}/{huge}", linux="EBUSY/EINVAL")
    if os.geteuid() != 0 and max_size is not None:
        assert above == "EPERM", f"an unprivileged F_SETPIPE_SZ above the maximum gave {above}"


@pytest.mark.ipc_property("pipe.fionread", ref="ioctl_fionread(2), pipe(7)")
@BOTH
def test_fionread(ipc_record, creator: PipeCreator) -> None:
    """ioctl(FIONREAD) on the read end reports the number of unread bytes (ioctl(2)
    FIONREAD, implemented for pipes by Linux fs/pipe.c pipe_ioctl; gVisor pipe.cc FionRead;
    LTP pipe12)."""
    import array

    with creator.open() as ends:
        os.write(ends.w, b"q" * 123)
        count = array.array("i", [0])
        fcntl.ioctl(ends.r, termios.FIONREAD, count, True)
    ipc_record.observe("FIONREAD", count[0])
    assert count[0] == 123


_PIPE2_CASES = {
    "none": 0,
    "O_CLOEXEC": os.O_CLOEXEC,
    "O_NONBLOCK": os.O_NONBLOCK,
    "both": os.O_CLOEXEC | os.O_NONBLOCK,
}


@pytest.mark.ipc_property("pipe.pipe2-flags", ref="pipe2(2)")
@pytest.mark.parametrize("flags", list(_PIPE2_CASES), ids=str)
def test_pipe2_flags(ipc_record, flags: str) -> None:
    """pipe2(O_CLOEXEC|O_NONBLOCK) sets FD_CLOEXEC and O_NONBLOCK on both new descriptors,
    and each only when asked (pipe2(2): "O_CLOEXEC Set the close-on-exec flag on the two new
    file descriptors ... O_NONBLOCK Set the O_NONBLOCK file status flag"; LTP pipe2_02)."""
    pipe2 = getattr(os, "pipe2", None)
    if pipe2 is None:
        ipc_record.expect("no pipe2", linux="as asked", note="pipe2 is Linux/BSD, not macOS")
        return
    value = _PIPE2_CASES[flags]
    r, w = pipe2(value)
    try:
        seen = [
            (bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC), not os.get_blocking(fd))
            for fd in (r, w)
        ]
    finally:
        os.close(r)
        os.close(w)
    want = (bool(value & os.O_CLOEXEC), bool(value & os.O_NONBLOCK))
    ipc_record.observe("(cloexec, nonblock) of each end", seen)
    ipc_record.expect("as asked" if seen == [want, want] else repr(seen), linux="as asked")


@pytest.mark.ipc_property("pipe.pipe2-einval", ref="pipe2(2)")
def test_pipe2_einval(ipc_record) -> None:
    """pipe2() with a flag it does not know fails with EINVAL (pipe2(2): "EINVAL (pipe2())
    Invalid value in flags"; gVisor pipe.cc BadOptions)."""
    pipe2 = getattr(os, "pipe2", None)
    if pipe2 is None:
        ipc_record.expect("no pipe2", linux="EINVAL")
        return
    bogus = 1 << 30  # not O_CLOEXEC, O_NONBLOCK, O_DIRECT or O_NOTIFICATION_PIPE
    try:
        fds = pipe2(bogus)
    except OSError as exc:
        result = errno_name(exc)
    else:
        os.close(fds[0])
        os.close(fds[1])
        result = "ok"
    ipc_record.expect(result, portable="EINVAL", linux="EINVAL")


@pytest.mark.ipc_property("pipe.packet-mode", ref="pipe2(2) O_DIRECT")
def test_packet_mode(ipc_record) -> None:
    """(Linux 3.4+) pipe2(O_DIRECT) makes a packet pipe: each write is one packet and a read
    returns at most one (pipe2(2): "Each write(2) to the pipe is dealt with as a separate
    packet, and read(2)s from the pipe will read one packet at a time"; LTP pipe2_01)."""
    direct = getattr(os, "O_DIRECT", None)
    pipe2 = getattr(os, "pipe2", None)
    if direct is None or pipe2 is None:
        ipc_record.expect("no O_DIRECT pipes", linux="one packet per read")
        return
    r, w = pipe2(direct)
    try:
        os.write(w, b"abc")
        os.write(w, b"de")
        reads = [os.read(r, 64), os.read(r, 64)]
    finally:
        os.close(r)
        os.close(w)
    ipc_record.observe("reads", [x.decode() for x in reads])
    ipc_record.expect(
        "one packet per read" if reads == [b"abc", b"de"] else repr(reads),
        linux="one packet per read",
    )


@pytest.mark.ipc_property("pipe.zero-length", ref="read(2), write(2)")
@BOTH
def test_zero_length(ipc_record, creator: PipeCreator) -> None:
    """Zero-length read() and write() on a pipe return 0 and move no data (write(2): "If
    count is zero and fd refers to a file other than a regular file, the results are not
    specified" — Linux and gVisor ZeroSize: 0; read(2): "If count is zero, read() may detect
    the errors ... returns zero")."""
    with creator.open() as ends:
        os.write(ends.w, b"kept")
        wrote = os.write(ends.w, b"")
        read0 = os.read(ends.r, 0)
        rest = os.read(ends.r, 64)
    ipc_record.observe("write(0), read(0)", [wrote, len(read0)])
    assert rest == b"kept", f"a zero-length read consumed data: {rest!r} left"
    ipc_record.expect(f"{wrote}/{len(read0)}", linux="0/0")


@pytest.mark.ipc_property("pipe.poll-hup", ref="poll(2), pipe(7)")
@BOTH
def test_poll_hup(ipc_record, creator: PipeCreator) -> None:
    """With every writer closed, poll() shows POLLHUP on the read end, with POLLIN too while
    data is left (poll(2): POLLHUP "Hang up ... when reading from a channel such as a pipe or a
    stream socket, this event merely indicates that the peer closed its end of the
    channel")."""
    with creator.open() as ends:
        os.write(ends.w, b"left")
        ends.close_write()
        with_data = _poll(ends.r, select.POLLIN)
        os.read(ends.r, 64)
        drained = _poll(ends.r, select.POLLIN)
    ipc_record.observe("with data, drained", [_flags(with_data), _flags(drained)])
    assert _flags(with_data) == "POLLIN|POLLHUP", "with data left and no writer"
    assert _flags(drained) == "POLLHUP", "drained, no writer"


@pytest.mark.ipc_property("pipe.poll-err", ref="poll(2), pipe(7)")
@BOTH
def test_poll_err(ipc_record, creator: PipeCreator) -> None:
    """With every reader closed, poll() on the write end reports an error condition: Linux
    gives POLLOUT|POLLERR (pipe_poll in fs/pipe.c); POSIX does not say which."""
    with creator.open() as ends:
        ends.close_read()
        mask = _poll(ends.w, select.POLLOUT)
    ipc_record.expect(_flags(mask), linux="POLLOUT|POLLERR")


@pytest.mark.ipc_property("pipe.poll-readiness", ref="poll(2), pipe(7)")
@BOTH
def test_poll_readiness(ipc_record, creator: PipeCreator) -> None:
    """poll() tracks the pipe's state: empty -> read end not ready, write end POLLOUT; data
    queued -> read end POLLIN; full -> write end not POLLOUT (poll(2); pipe(7) "I/O on pipes
    and FIFOs")."""
    with creator.open() as ends:
        states = {"empty": (_poll(ends.r, select.POLLIN), _poll(ends.w, select.POLLOUT))}
        os.write(ends.w, b"d")
        states["data"] = (_poll(ends.r, select.POLLIN), _poll(ends.w, select.POLLOUT))
        fill_nonblocking(ends.w, 1)
        states["full"] = (_poll(ends.r, select.POLLIN), _poll(ends.w, select.POLLOUT))
    shown = {k: [_flags(m) for m in v] for k, v in states.items()}
    ipc_record.observe("read end, write end", shown)
    assert shown == {
        "empty": ["none", "POLLOUT"],
        "data": ["POLLIN", "POLLOUT"],
        "full": ["POLLIN", "none"],
    }


@pytest.mark.ipc_property("pipe.poll-out-progress", ref="poll(2), POSIX write()")
@BOTH
def test_poll_out_progress(ipc_record, creator: PipeCreator) -> None:
    """When poll() reports the write end writable, a non-blocking write of PIPE_BUF bytes
    makes progress: no spurious EAGAIN (FreeBSD tests/sys/kern/pipe big_pipe_test; poll(2):
    POLLOUT "Writing is now possible")."""
    with creator.open() as ends:
        size = _pipe_buf(ends.w)
        fill_nonblocking(ends.w, size)
        os.read(ends.r, size)
        ready = _poll(ends.w, select.POLLOUT)
        os.set_blocking(ends.w, False)
        result = outcome(os.write, ends.w, b"z" * size) if ready & select.POLLOUT else "no POLLOUT"
    ipc_record.observe("after draining PIPE_BUF", result)
    assert result == "ok", f"POLLOUT then write of PIPE_BUF gave {result}"


def _child_emfile(sock: socket.socket) -> str:
    # Lower the limit: descriptors already open above it stay valid, new ones must fit below.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    spare = []
    try:
        while True:  # fill every free slot below the limit
            spare.append(os.dup(0))
    except OSError as exc:
        if exc.errno != errno.EMFILE:
            raise
    os.close(spare.pop())  # one slot free: pipe() needs two
    try:
        fds = os.pipe()
    except OSError as exc:
        return errno_name(exc)
    os.close(fds[0])
    os.close(fds[1])
    return "ok"


@pytest.mark.ipc_property("pipe.emfile", ref="pipe(2)")
def test_emfile(ipc_record) -> None:
    """pipe() in a process with fewer than two descriptors left under its limit fails with
    EMFILE (pipe(2): "EMFILE The per-process limit on the number of open file descriptors has
    been reached"; LTP pipe06). The limit is lowered in a forked child only."""
    with forked_peer(_child_emfile) as peer:
        result = peer.join(timeout=5.0)
    ipc_record.observe("pipe() at RLIMIT_NOFILE", result)
    assert result == "EMFILE"


def _child_blocked_writer(sock: socket.socket, w: int) -> str:
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    fill_nonblocking(w, 1)
    sock.sendall(b"f")
    try:
        os.write(w, b"x" * 16)  # blocks: the pipe is full
    except OSError as exc:
        return errno_name(exc)
    return "write returned"


@pytest.mark.ipc_property("pipe.blocked-writer-epipe", ref="pipe(7), gVisor BlockWriteClosed")
@BOTH
def test_blocked_writer_epipe(ipc_record, creator: PipeCreator) -> None:
    """A writer blocked on a full pipe gets EPIPE when the last reader closes (with SIGPIPE
    ignored), not a hang (pipe(7); gVisor pipe.cc BlockWriteClosed)."""
    with (
        creator.open() as ends,
        forked_peer(_child_blocked_writer, ends.w, pass_fds=[ends.w]) as peer,
    ):
        ends.close_write()
        wait_readable(peer.sock.fileno(), 5.0, "the child filling the pipe")
        peer.sock.recv(1)
        wait_sleeping(peer.pid, 5.0, "the child blocking in write()")
        ends.close_read()
        result = peer.join(timeout=5.0)
    ipc_record.observe("blocked write after the reader closed", result)
    assert result == "EPIPE"


@pytest.mark.ipc_property("pipe.proc-fd-reopen", ref="proc(5) /proc/pid/fd, gVisor pipe.cc")
def test_proc_fd_reopen(ipc_record) -> None:
    """(Linux) open("/proc/self/fd/N") of a pipe end does not block and yields a new
    descriptor on the same pipe buffer (proc(5): /proc/pid/fd entries are symbolic links to
    the open files, and opening one opens that file; gVisor OpenViaProcSelfFD)."""
    with os_pipe() as ends:
        path = f"/proc/self/fd/{ends.r}"
        if not os.path.exists(path):
            ipc_record.expect("no /proc/self/fd", linux="shares the buffer")
            return
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            os.write(ends.w, b"via proc")
            got = os.read(fd, 64)
            same = os.fstat(fd).st_ino == os.fstat(ends.r).st_ino
        finally:
            os.close(fd)
    ipc_record.expect(
        "shares the buffer" if got == b"via proc" and same else f"read {got!r}",
        linux="shares the buffer",
    )
