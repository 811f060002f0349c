"""FIFOs, named pipes (mkfifo(3), fifo(7)): what is FIFO-specific. The pipe properties that hold
for FIFOs too (EOF, EPIPE, PIPE_BUF atomicity, poll, ...) run over both in test_pipe.py.

References: fifo(7), open(2) (O_NONBLOCK on FIFOs), mkfifo(3), LTP mknod01-09 and read03,
gVisor test/syscalls/linux/pipe.cc and mknod.cc.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_unixipc import forked_peer, wait_readable
from pytest_unixipc.classic import errno_name, outcome, reverse_direction, wait_sleeping

TIMEOUT = 5.0


@pytest.mark.ipc_property("fifo.is-fifo", ref="mkfifo(3), mknod(2), inode(7)")
@pytest.mark.parametrize("maker", ["mkfifo", "mknod"])
def test_is_fifo(ipc_record, ipc_tmp_path: Path, maker: str) -> None:
    """mkfifo() and mknod(S_IFIFO) create a file of type S_IFIFO with the requested
    permission bits less the umask (mkfifo(3): "makes a FIFO special file with name
    pathname. mode specifies the FIFO's permissions"; mknod(2); LTP mknod01)."""
    path = str(ipc_tmp_path / "made")
    if maker == "mkfifo":
        os.mkfifo(path, 0o640)
    else:
        os.mknod(path, stat.S_IFIFO | 0o640)
    try:
        st = os.lstat(path)
    finally:
        os.unlink(path)
    umask = os.umask(0)
    os.umask(umask)
    ipc_record.observe("mode", oct(st.st_mode))
    assert stat.S_ISFIFO(st.st_mode), f"{maker} made mode {st.st_mode:o}"
    assert stat.S_IMODE(st.st_mode) == 0o640 & ~umask


_WRITER = """
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, b"from unrelated pid %d" % os.getpid())
os.close(fd)
"""


@pytest.mark.ipc_property("fifo.unrelated", ref="fifo(7)")
def test_unrelated(ipc_record, fifo_path: str) -> None:
    """Two processes not related by fork() exchange data through a FIFO by its name: a
    separately started interpreter writes, this process reads (fifo(7): a FIFO "is accessed as
    part of the filesystem. It can be opened by multiple processes for reading or
    writing")."""
    r = os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _WRITER, fifo_path], timeout=TIMEOUT, capture_output=True
        )
        assert proc.returncode == 0, proc.stderr.decode()
        wait_readable(r, TIMEOUT, "data from the unrelated writer")
        data = os.read(r, 256)
        eof = os.read(r, 256)
    finally:
        os.close(r)
    ipc_record.observe("read", data.decode())
    assert data.startswith(b"from unrelated pid "), f"read {data!r}"
    assert int(data.rsplit(b" ", 1)[1]) != os.getpid()
    assert eof == b"", "no EOF after the unrelated writer exited"


@pytest.mark.ipc_property("fifo.half-duplex", ref="fifo(7), open(2)")
def test_half_duplex(ipc_record, fifo_path: str) -> None:
    """A FIFO is one-way like a pipe: the end opened O_RDONLY cannot write and the end opened
    O_WRONLY cannot read, both EBADF (fifo(7): "The FIFO must be opened on both ends (reading
    and writing) before data can be passed"; read(2)/write(2): EBADF "fd is not a valid file
    descriptor or is not open for reading/writing")."""
    r = os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK)
    w = os.open(fifo_path, os.O_WRONLY)
    try:
        observed = reverse_direction(r, w)
    finally:
        os.close(r)
        os.close(w)
    ipc_record.observe("reverse use", observed)
    assert observed == "EBADF", f"a FIFO used backwards gave {observed}"


@pytest.mark.ipc_property("fifo.open-nonblock-reader", ref="fifo(7), open(2)")
def test_open_nonblock_reader(ipc_record, fifo_path: str) -> None:
    """open(O_RDONLY|O_NONBLOCK) with no writer succeeds at once (fifo(7): "A process can open
    a FIFO in nonblocking mode. In this case, opening for read-only succeeds even if no one has
    opened on the write side yet")."""
    result = "ok"
    try:
        os.close(os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK))
    except OSError as exc:
        result = errno_name(exc)
    ipc_record.observe("open", result)
    assert result == "ok"


@pytest.mark.ipc_property("fifo.open-nonblock-writer", ref="fifo(7), open(2)")
def test_open_nonblock_writer(ipc_record, fifo_path: str) -> None:
    """open(O_WRONLY|O_NONBLOCK) with no reader fails with ENXIO (fifo(7): "opening for
    write-only fails with ENXIO (no such device or address) unless the other end has already
    been opened"; open(2) ENXIO)."""
    result = outcome(lambda: os.close(os.open(fifo_path, os.O_WRONLY | os.O_NONBLOCK)))
    ipc_record.observe("open", result)
    assert result == "ENXIO"


def _child_open(sock: socket.socket, path: str, flags: int) -> str:
    sock.sendall(b"o")
    fd = os.open(path, flags)  # blocks until the other end is opened
    sock.sendall(b"d")
    os.close(fd)
    return "opened"


@pytest.mark.ipc_property("fifo.open-blocks", ref="fifo(7), open(2)")
@pytest.mark.parametrize("side", ["reader", "writer"])
def test_open_blocks(ipc_record, fifo_path: str, side: str) -> None:
    """A blocking open of one end waits until the other end is opened (fifo(7): "Normally,
    opening the FIFO blocks until the other end is opened also"; gVisor pipe.cc Fifo). The
    child is seen asleep in open() (/proc/<pid>/stat, as LTP's TST_PROCESS_STATE_WAIT), then
    the parent opens the other end and the child's open returns."""
    child_flags, other = (
        (os.O_RDONLY, os.O_WRONLY | os.O_NONBLOCK)
        if side == "reader"
        else (os.O_WRONLY, os.O_RDONLY | os.O_NONBLOCK)
    )
    with forked_peer(_child_open, fifo_path, child_flags) as peer:
        wait_readable(peer.sock.fileno(), TIMEOUT, "the child reaching open()")
        peer.sock.recv(1)
        asleep = wait_sleeping(peer.pid, TIMEOUT, f"the {side} blocking in open()")
        still_open = not select.select([peer.sock], [], [], 0)[0]
        fd = os.open(fifo_path, other)
        try:
            result = peer.join(timeout=TIMEOUT)
        finally:
            os.close(fd)
    ipc_record.observe("seen asleep in open()", asleep)
    assert still_open, "the child's open() returned before the other end was opened"
    assert result == "opened"


@pytest.mark.ipc_property("fifo.open-eintr", ref="fifo(7), open(2) EINTR, signal(7)")
def test_open_eintr(ipc_record, fifo_path: str) -> None:
    """A blocking FIFO open() interrupted by a signal whose handler is installed without
    SA_RESTART fails with EINTR (open(2): "EINTR While blocked waiting to complete an open of
    a slow device (e.g., a FIFO) ... the call was interrupted by a signal handler"; gVisor
    OpenBlockedAndInterrupted)."""

    def child(sock: socket.socket, path: str) -> str:
        signal.signal(signal.SIGUSR1, lambda *_: None)  # Python: SA_RESTART off
        libc = ctypes.CDLL(None, use_errno=True)
        sock.sendall(b"o")
        fd = libc.open(os.fsencode(path), os.O_RDONLY)
        if fd >= 0:
            os.close(fd)
            return "opened"
        return errno.errorcode[ctypes.get_errno()]

    with forked_peer(child, fifo_path) as peer:
        wait_readable(peer.sock.fileno(), TIMEOUT, "the child reaching open()")
        peer.sock.recv(1)
        wait_sleeping(peer.pid, TIMEOUT, "the child blocking in open()")
        os.kill(peer.pid, signal.SIGUSR1)
        result = peer.join(timeout=TIMEOUT)
    ipc_record.observe("open() after the signal", result)
    assert result == "EINTR", f"the interrupted open gave {result}"


@pytest.mark.ipc_property("fifo.open-rdwr", ref="fifo(7), open(2)")
def test_open_rdwr(ipc_record, fifo_path: str) -> None:
    """open(O_RDWR) of a FIFO does not block and the one descriptor writes and reads. POSIX
    leaves this undefined; Linux documents it (fifo(7): "Under Linux, opening a FIFO for read
    and write will succeed both in blocking and nonblocking mode. POSIX leaves this behavior
    undefined")."""

    def child(sock: socket.socket, path: str) -> str:
        fd = os.open(path, os.O_RDWR)
        try:
            os.write(fd, b"self")
            return os.read(fd, 16).decode()
        finally:
            os.close(fd)

    with forked_peer(child, fifo_path) as peer:
        try:
            got = peer.join(timeout=TIMEOUT)
            observed = "opens without blocking" if got == "self" else f"read {got!r}"
        except AssertionError as exc:  # PeerTimeout: it blocked
            observed = f"blocked ({type(exc).__name__})"
    ipc_record.expect(
        observed,
        linux="opens without blocking",
        note="POSIX: undefined",
    )


@pytest.mark.ipc_property("fifo.nonblock-read-no-writer", ref="fifo(7), read(2), LTP read03")
def test_nonblock_read_no_writer(ipc_record, fifo_path: str) -> None:
    """A non-blocking read of a FIFO that no process has open for writing returns 0 (end of
    file), not EAGAIN (POSIX read(): "When attempting to read from an empty pipe or FIFO: If no
    process has the pipe open for writing, read() shall return 0 to indicate end-of-file")."""
    r = os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        got = os.read(r, 16)
    except OSError as exc:
        result = errno_name(exc)
    else:
        result = f"{len(got)} bytes"
    finally:
        os.close(r)
    ipc_record.expect(result, portable="0 bytes", linux="0 bytes")


@pytest.mark.ipc_property("fifo.truncate", ref="truncate(2), open(2) O_TRUNC, fifo(7)")
def test_truncate(ipc_record, fifo_path: str) -> None:
    """truncate() and ftruncate() on a FIFO fail with EINVAL, and O_TRUNC at open is ignored:
    queued data survives (truncate(2): "EINVAL fd does not reference a regular file or a POSIX
    shared memory object"; open(2): O_TRUNC "If the file is a FIFO or terminal device file,
    the O_TRUNC flag is ignored"; gVisor pipe.cc Truncate, FifoOtrunc)."""
    r = os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK)
    w = os.open(fifo_path, os.O_WRONLY)
    try:
        os.write(w, b"keep")
        results = {
            "ftruncate": outcome(os.ftruncate, w, 0),
            "truncate": outcome(os.truncate, fifo_path, 0),
        }
        os.close(os.open(fifo_path, os.O_WRONLY | os.O_TRUNC | os.O_NONBLOCK))
        kept = os.read(r, 16)
    finally:
        os.close(r)
        os.close(w)
    ipc_record.observe("results", results)
    assert results == {"ftruncate": "EINVAL", "truncate": "EINVAL"}
    assert kept == b"keep", f"O_TRUNC discarded queued data: read {kept!r}"


@pytest.mark.ipc_property("fifo.mkfifo-errors", ref="mkfifo(3)")
@pytest.mark.parametrize("case", ["EEXIST", "ENOENT", "ENOTDIR"])
def test_mkfifo_errors(ipc_record, ipc_tmp_path: Path, case: str) -> None:
    """mkfifo() fails like other file creation: EEXIST when the path exists, ENOENT when a
    directory on the path is missing, ENOTDIR when a path component is a regular file
    (mkfifo(3) ERRORS; LTP mknod06, mknod07)."""
    plain = ipc_tmp_path / "plain"
    plain.write_bytes(b"")
    path = {
        "EEXIST": plain,
        "ENOENT": ipc_tmp_path / "missing" / "f",
        "ENOTDIR": plain / "f",
    }[case]
    try:
        result = outcome(os.mkfifo, str(path))
    finally:
        plain.unlink()
    ipc_record.observe("mkfifo", result)
    assert result == case


@pytest.mark.ipc_property("fifo.discard-on-close", ref="fifo(7), pipe(7)")
def test_discard_on_close(ipc_record, fifo_path: str) -> None:
    """Data left in a FIFO is discarded once every process has closed it: the file is only a
    name, nothing is stored in the filesystem (fifo(7): "the FIFO special file has no contents
    on the filesystem"; "the kernel passes all data internally without writing it to the
    filesystem")."""
    r = os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK)
    w = os.open(fifo_path, os.O_WRONLY)
    os.write(w, b"stale")
    os.close(w)
    os.close(r)
    r = os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK)
    w = os.open(fifo_path, os.O_WRONLY)
    try:
        result = outcome(os.read, r, 16)
        size = os.stat(fifo_path).st_size
    finally:
        os.close(r)
        os.close(w)
    ipc_record.observe("read after reopening", result)
    assert result == "EAGAIN", f"data survived the last close: read gave {result}"
    assert size == 0


@pytest.mark.ipc_property("fifo.unlink-open", ref="fifo(7), unlink(2)")
def test_unlink_open(ipc_record, ipc_tmp_path: Path) -> None:
    """Unlinking a FIFO's name leaves the opened ends working (unlink(2): "If the name was the
    last link to a file but any processes still have the file open, the file will remain in
    existence until the last file descriptor referring to it is closed")."""
    path = str(ipc_tmp_path / "gone")
    os.mkfifo(path)
    r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    w = os.open(path, os.O_WRONLY)
    try:
        os.unlink(path)
        os.write(w, b"still works")
        got = os.read(r, 32)
    finally:
        os.close(r)
        os.close(w)
    ipc_record.observe("read after unlink", got.decode())
    assert not os.path.lexists(path)
    assert got == b"still works"
