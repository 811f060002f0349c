"""Shared memory: mmap(2) mappings, POSIX shared memory objects (shm_open(3), shm_overview(7))
and System V segments (shmget(2), shmop(2)).

References: mmap(2), msync(2), shm_open(3), shm_overview(7), shmget(2), shmop(2), shmctl(2);
LTP's open POSIX test suite (conformance/interfaces/shm_open, shm_unlink, mmap), FreeBSD
tests/sys/posixshm, gVisor test/syscalls/linux/shm.cc.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import mmap
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_unixipc import PeerDied, forked_peer
from pytest_unixipc import posix_ipc as px
from pytest_unixipc.classic import (
    errno_name,
    outcome,
    posix_shm,
    shared_anon_mapping,
    sysv_shm_segment,
    unique_name,
)

LINUX = sys.platform.startswith("linux")
PAGE = mmap.PAGESIZE
TIMEOUT = 5.0


def _run_unrelated(code: str, *args: str) -> str:
    """Run ``code`` in a separately started interpreter (not a fork); its stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], timeout=10, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"the unrelated process failed:\n{proc.stderr}"
    return proc.stdout.strip()


def _child_write_mapping(sock: socket.socket, mapping: mmap.mmap, data: bytes) -> bytes:
    before = mapping[: len(data)]
    mapping[: len(data)] = data
    return before


@pytest.mark.ipc_property("shm.anon-shared-fork", ref="mmap(2) MAP_SHARED|MAP_ANONYMOUS")
def test_anon_shared_fork(ipc_record) -> None:
    """A MAP_SHARED|MAP_ANONYMOUS mapping made before fork() is shared: the child's writes are
    seen by the parent (mmap(2): MAP_SHARED "Updates to the mapping are visible to other
    processes mapping the same region"; MAP_ANONYMOUS with fork)."""
    with shared_anon_mapping(PAGE) as mapping:
        with forked_peer(_child_write_mapping, mapping, b"child wrote") as peer:
            peer.join(timeout=TIMEOUT)
        seen = mapping[:11]
    ipc_record.observe("parent sees", seen.decode(errors="replace"))
    assert seen == b"child wrote", "the child's write did not reach the parent"


@pytest.mark.ipc_property("shm.private-cow", ref="mmap(2) MAP_PRIVATE, fork(2)")
def test_private_cow(ipc_record) -> None:
    """A MAP_PRIVATE mapping is copy-on-write: the child starts with the parent's contents,
    and its writes are not seen by the parent (mmap(2): MAP_PRIVATE "Create a private
    copy-on-write mapping. Updates to the mapping are not visible to other processes")."""
    mapping = mmap.mmap(-1, PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        mapping[:6] = b"parent"
        with forked_peer(_child_write_mapping, mapping, b"childs") as peer:
            child_saw = peer.join(timeout=TIMEOUT)
        seen = mapping[:6]
    finally:
        mapping.close()
    ipc_record.observe("child saw, parent sees", [child_saw.decode(), seen.decode()])
    assert child_saw == b"parent", "the child did not start with the parent's contents"
    assert seen == b"parent", f"the child's private write leaked to the parent: {seen!r}"


_MAP_FILE_WRITER = """
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, mmap.PAGESIZE, mmap.MAP_SHARED)
print(m[:6].decode())
m[100:116] = b"unrelated writer"
m.close()
os.close(fd)
"""


@pytest.mark.ipc_property("shm.file-backed", ref="mmap(2) MAP_SHARED")
def test_file_backed(ipc_record, ipc_tmp_path: Path) -> None:
    """A MAP_SHARED mapping of a file is shared by unrelated processes: a separately started
    interpreter maps the same file, sees this process's bytes and writes bytes that appear in
    this process's mapping without re-reading (mmap(2) MAP_SHARED)."""
    path = ipc_tmp_path / "mapped"
    path.write_bytes(b"\0" * PAGE)
    fd = os.open(path, os.O_RDWR)
    try:
        mapping = mmap.mmap(fd, PAGE, mmap.MAP_SHARED)
        try:
            mapping[:6] = b"parent"
            other_saw = _run_unrelated(_MAP_FILE_WRITER, str(path))
            seen = mapping[100:116]
        finally:
            mapping.close()
    finally:
        os.close(fd)
        path.unlink()
    ipc_record.observe("unrelated process saw", other_saw)
    assert other_saw == "parent"
    assert seen == b"unrelated writer", f"this mapping shows {seen!r}"


_SHM_PEER = """
import mmap, os, sys
from pytest_unixipc import posix_ipc
fd = posix_ipc.shm_open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, os.fstat(fd).st_size, mmap.MAP_SHARED)
print(m[:5].decode())
m[5:10] = b"reply"
m.close()
os.close(fd)
"""


@pytest.mark.ipc_property("shm.posix-named", ref="shm_open(3), shm_overview(7)")
def test_posix_named(ipc_record) -> None:
    """A shm_open() object is visible by name to an unrelated process, which sees and changes
    the same bytes; after shm_unlink() the name is gone: shm_open without O_CREAT fails with
    ENOENT (shm_open(3): "A POSIX shared memory object is in effect a handle which can be used
    by unrelated processes to mmap(2) the same region of shared memory"; shm_unlink(3))."""
    with posix_shm(PAGE) as shm:
        mapping = shm.map()
        try:
            mapping[:5] = b"hello"
            other_saw = _run_unrelated(_SHM_PEER, shm.name)
            reply = mapping[5:10]
        finally:
            mapping.close()
        px.shm_unlink(shm.name)
        after = outcome(px.shm_open, shm.name, os.O_RDWR)
    ipc_record.observe("unrelated process read", other_saw)
    assert other_saw == "hello"
    assert reply == b"reply", f"the unrelated process's write shows as {reply!r}"
    assert after == "ENOENT", f"shm_open after shm_unlink gave {after}"


def _child_grow(sock: socket.socket, name: str, size: int) -> None:
    fd = px.shm_open(name, os.O_RDWR)
    try:
        os.ftruncate(fd, size)
        m = mmap.mmap(fd, size, mmap.MAP_SHARED)
        m[size - 4 : size] = b"tail"
        m.close()
    finally:
        os.close(fd)


@pytest.mark.ipc_property("shm.ftruncate-shared-size", ref="shm_open(3), ftruncate(2)")
def test_ftruncate_shared_size(ipc_record) -> None:
    """The size set with ftruncate() by one process is the object's size for every process:
    another process's fstat() shows it and a MAP_SHARED mapping of that size sees the bytes
    written at its end (shm_open(3): "A new shared memory object initially has zero length—the
    size of the object can be set using ftruncate(2)"; shm_overview(7))."""
    with posix_shm() as shm:
        before = shm.size
        with forked_peer(_child_grow, shm.name, 3 * PAGE) as peer:
            peer.join(timeout=TIMEOUT)
        after = shm.size
        mapping = shm.map()
        try:
            tail = mapping[-4:]
        finally:
            mapping.close()
    ipc_record.observe("size before, after the child's ftruncate", [before, after])
    assert before == 0
    assert after == 3 * PAGE
    assert tail == b"tail"


@pytest.mark.ipc_property("shm.resize-zero-fill", ref="ftruncate(2), shm_open(3)")
def test_resize_zero_fill(ipc_record) -> None:
    """ftruncate() grows and shrinks an object; grown bytes read as zero, also after a shrink
    discarded earlier contents (ftruncate(2): "If the file previously was shorter, it is
    extended, and the extended part reads as null bytes"; FreeBSD posixshm object_resize)."""
    with posix_shm(PAGE) as shm:
        os.pwrite(shm.fd, b"\xff" * PAGE, 0)
        shm.resize(10)
        shm.resize(2 * PAGE)
        mapping = shm.map()
        try:
            kept, rest = mapping[:10], mapping[10:]
        finally:
            mapping.close()
    ipc_record.observe("non-zero bytes after regrowing", sum(1 for b in rest if b))
    assert kept == b"\xff" * 10
    assert rest == bytes(len(rest)), "bytes beyond the shrink point did not read as zero"


def _child_touch_past_eof(sock: socket.socket, path: str) -> str:
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, 2 * PAGE, mmap.MAP_SHARED)
    os.ftruncate(fd, PAGE)  # the second page no longer has file behind it
    m[0] = 1  # fine: inside the file
    m[PAGE + 1] = 1  # SIGBUS
    return "no signal"


@pytest.mark.ipc_property("shm.sigbus-past-eof", ref="mmap(2) SIGBUS")
def test_sigbus_past_eof(ipc_record, ipc_tmp_path: Path) -> None:
    """Touching a page of a file mapping that lies wholly past the end of the file raises
    SIGBUS (mmap(2): "SIGBUS Attempted access to a page of the buffer that lies beyond the end
    of the mapped file"). Done in a forked child, which the signal kills."""
    path = ipc_tmp_path / "short"
    path.write_bytes(b"\0" * 2 * PAGE)
    try:
        with forked_peer(_child_touch_past_eof, str(path)) as peer, pytest.raises(PeerDied) as d:
            peer.join(timeout=TIMEOUT)
    finally:
        path.unlink()
    ipc_record.observe("child", str(d.value))
    assert d.value.signal == signal.SIGBUS, f"the child was not killed by SIGBUS: {d.value}"


@pytest.mark.ipc_property("shm.msync", ref="msync(2)")
def test_msync(ipc_record, ipc_tmp_path: Path) -> None:
    """After msync(MS_SYNC) the file holds what was written through a MAP_SHARED mapping, so
    read() of the file sees it (msync(2): "flushes changes made to the in-core copy of a file
    that was mapped into memory using mmap(2) back to the filesystem")."""
    path = ipc_tmp_path / "synced"
    path.write_bytes(b"\0" * PAGE)
    fd = os.open(path, os.O_RDWR)
    try:
        mapping = mmap.mmap(fd, PAGE, mmap.MAP_SHARED)
        try:
            mapping[200:206] = b"synced"
            mapping.flush()  # msync(MS_SYNC)
        finally:
            mapping.close()
        on_file = os.pread(fd, 6, 200)
    finally:
        os.close(fd)
        path.unlink()
    ipc_record.observe("read() after msync", on_file.decode(errors="replace"))
    assert on_file == b"synced"


@pytest.mark.ipc_property("shm.unified-cache", ref="mmap(2), msync(2) NOTES")
def test_unified_cache(ipc_record, ipc_tmp_path: Path) -> None:
    """A write() to a file shows in an existing MAP_SHARED mapping of it without msync or
    remapping. POSIX only promises this after msync(); Linux's unified page cache makes it
    immediate (msync(2) NOTES; mmap(2))."""
    path = ipc_tmp_path / "cached"
    path.write_bytes(b"\0" * PAGE)
    fd = os.open(path, os.O_RDWR)
    try:
        mapping = mmap.mmap(fd, PAGE, mmap.MAP_SHARED)
        try:
            os.pwrite(fd, b"written", 300)
            seen = mapping[300:307]
        finally:
            mapping.close()
    finally:
        os.close(fd)
        path.unlink()
    ipc_record.expect(
        "visible" if seen == b"written" else f"mapping shows {seen!r}",
        linux="visible",
    )


@pytest.mark.ipc_property("shm.open-defaults", ref="shm_open(3)")
def test_open_defaults(ipc_record) -> None:
    """shm_open(O_CREAT) makes an object of size 0 whose descriptor has FD_CLOEXEC set
    (shm_open(3): "A new shared memory object initially has zero length"; "The FD_CLOEXEC flag
    is set for the file descriptor"; open POSIX shm_open/21, /11)."""
    with posix_shm() as shm:
        size = shm.size
        cloexec = bool(fcntl.fcntl(shm.fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    ipc_record.observe("size, FD_CLOEXEC", [size, cloexec])
    assert size == 0
    assert cloexec, "FD_CLOEXEC is not set on the shm_open() descriptor"


@pytest.mark.ipc_property("shm.open-excl", ref="shm_open(3)")
def test_open_excl(ipc_record) -> None:
    """O_CREAT|O_EXCL on an existing name fails with EEXIST; opening a missing name without
    O_CREAT fails with ENOENT (shm_open(3) ERRORS; open POSIX shm_open/22, /23)."""
    with posix_shm() as shm:
        exists = outcome(px.shm_open, shm.name, os.O_CREAT | os.O_EXCL | os.O_RDWR)
    missing = outcome(px.shm_open, unique_name(), os.O_RDWR)
    ipc_record.observe("O_EXCL on existing, open of missing", [exists, missing])
    assert exists == "EEXIST"
    assert missing == "ENOENT"


@pytest.mark.ipc_property("shm.open-trunc", ref="shm_open(3) O_TRUNC")
def test_open_trunc(ipc_record) -> None:
    """O_TRUNC on an existing object opened O_RDWR truncates it to 0 (shm_open(3): "O_TRUNC If
    the shared memory object already exists, truncate it to zero bytes"; open POSIX
    shm_open/25)."""
    with posix_shm(PAGE) as shm:
        fd = px.shm_open(shm.name, os.O_RDWR | os.O_TRUNC)
        try:
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
    ipc_record.observe("size after O_TRUNC", size)
    assert size == 0


def _child_write_shared(sock: socket.socket, mapping: mmap.mmap) -> None:
    mapping[:8] = b"unlinked"


@pytest.mark.ipc_property("shm.unlink-keeps-mapping", ref="shm_unlink(3)")
def test_unlink_keeps_mapping(ipc_record) -> None:
    """shm_unlink() removes the name at once, but existing descriptors and mappings stay
    valid and shared; unlinking a missing name fails with ENOENT (shm_open(3): shm_unlink
    "removes a shared memory object name, and, once all processes have unmapped the object,
    deallocates and destroys the contents of the associated memory region"; open POSIX
    shm_unlink/2-5, /11)."""
    with posix_shm(PAGE) as shm:
        mapping = shm.map()
        try:
            px.shm_unlink(shm.name)
            with forked_peer(_child_write_shared, mapping) as peer:
                peer.join(timeout=TIMEOUT)
            via_fd = os.pread(shm.fd, 8, 0)
        finally:
            mapping.close()
        again = outcome(px.shm_unlink, shm.name)
    ipc_record.observe("read through the fd after unlink", via_fd.decode(errors="replace"))
    assert via_fd == b"unlinked"
    assert again == "ENOENT"


@pytest.mark.ipc_property("shm.rdonly-map-write", ref="mmap(2) EACCES, shm_open(3)")
def test_rdonly_map_write(ipc_record) -> None:
    """A descriptor opened O_RDONLY cannot back a writable MAP_SHARED mapping: mmap() fails
    with EACCES (mmap(2): "EACCES ... MAP_SHARED was requested and PROT_WRITE is set, but fd
    is not open in read/write (O_RDWR) mode"; FreeBSD posixshm readonly_mmap_write)."""
    with posix_shm(PAGE) as shm:
        fd = px.shm_open(shm.name, os.O_RDONLY)
        try:
            result = outcome(mmap.mmap, fd, PAGE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
    ipc_record.observe("mmap", result)
    assert result == "EACCES"


@pytest.mark.ipc_property("shm.name-rules", ref="shm_open(3), shm_overview(7)")
@pytest.mark.parametrize("case", ["inner-slash", "too-long"])
def test_name_rules(ipc_record, case: str) -> None:
    """A portable name is "/" plus up to NAME_MAX characters with no further slash
    (shm_open(3): "For portable use, a shared memory object should be identified by a name of
    the form /somename ... up to NAME_MAX (i.e., 255) characters"). glibc refuses a name with an
    inner slash or too long with EINVAL; POSIX names ENAMETOOLONG for the latter."""
    name = {"inner-slash": unique_name() + "/x", "too-long": "/" + "n" * 300}[case]
    try:
        fd = px.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR)
    except OSError as exc:
        result = errno_name(exc)
    else:
        os.close(fd)
        with contextlib.suppress(OSError):
            px.shm_unlink(name)
        result = "ok"
    portable = "EINVAL" if case == "inner-slash" else "ENAMETOOLONG"
    ipc_record.expect(result, portable=portable, linux="EINVAL")


@pytest.mark.ipc_property("shm.dev-shm", ref="shm_overview(7), sem_overview(7)")
def test_dev_shm(ipc_record) -> None:
    """On Linux a POSIX shared memory object is a file in the tmpfs at /dev/shm, named without
    the leading slash, and the name goes with shm_unlink() (shm_overview(7): "On Linux, shared
    memory objects are created in a (tmpfs(5)) virtual filesystem, normally mounted under
    /dev/shm"). Other systems keep no such file."""
    with posix_shm(PAGE) as shm:
        path = "/dev/shm/" + shm.name.lstrip("/")
        present = os.path.exists(path)
        px.shm_unlink(shm.name)
        gone = not os.path.exists(path)
    observed = "file in /dev/shm, removed by shm_unlink" if present and gone else "no file"
    ipc_record.expect(observed, linux="file in /dev/shm, removed by shm_unlink")


@pytest.mark.ipc_property("shm.mode-umask", ref="shm_open(3)")
def test_mode_umask(ipc_record) -> None:
    """A new object's permission bits are ``mode & ~umask`` and its owner is the effective
    user (shm_open(3): "the object's permission bits are set according to the low-order 9 bits
    of mode, except that those bits set in the process file mode creation mask (see umask(2))
    are cleared"; open POSIX shm_open/16-18)."""
    old = os.umask(0o027)
    try:
        with posix_shm(mode=0o666) as shm:
            st = os.fstat(shm.fd)
    finally:
        os.umask(old)
    ipc_record.observe("mode", oct(stat.S_IMODE(st.st_mode)))
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_uid == os.geteuid()


def _child_sysv_write(sock: socket.socket, address: int) -> bytes:
    before = ctypes.string_at(address, 6)
    ctypes.memmove(address + 6, b"child", 5)
    return before


@pytest.mark.ipc_property("shm.sysv-fork-shared", ref="shmop(2), fork(2)")
def test_sysv_fork_shared(ipc_record) -> None:
    """A System V segment attached before fork() stays attached in the child and is shared
    (shmop(2): "After a fork(2), the child inherits the attached shared memory segments")."""
    with sysv_shm_segment(PAGE) as seg:
        ctypes.memmove(seg.address, b"parent", 6)
        with forked_peer(_child_sysv_write, seg.address) as peer:
            child_saw = peer.join(timeout=TIMEOUT)
        seen = ctypes.string_at(seg.address + 6, 5)
    ipc_record.observe("child saw, parent sees", [child_saw.decode(), seen.decode()])
    assert child_saw == b"parent"
    assert seen == b"child"


@pytest.mark.ipc_property("shm.sysv-rmid-attached", ref="shmctl(2) IPC_RMID, shmop(2)")
def test_sysv_rmid_attached(ipc_record) -> None:
    """IPC_RMID marks a segment for destruction, which happens only after the last detach:
    while attached it keeps working; after shmdt() the id is invalid (shmctl(2): "IPC_RMID Mark
    the segment to be destroyed. The segment will actually be destroyed only after the last
    process detaches it"; gVisor shm.cc RemovedSegments)."""
    shmid = px.shmget(px.IPC_PRIVATE, PAGE, px.IPC_CREAT | 0o600)
    address = px.shmat(shmid)
    try:
        px.shmctl_rmid(shmid)
        ctypes.memmove(address, b"still here", 10)
        while_attached = ctypes.string_at(address, 10)
    finally:
        px.shmdt(address)
    after = outcome(px.shmat, shmid)
    ipc_record.observe("shmat after the last detach", after)
    assert while_attached == b"still here"
    assert after in ("EINVAL", "EIDRM"), f"shmat of a destroyed segment gave {after}"


@pytest.mark.ipc_property("shm.sysv-excl", ref="shmget(2)")
def test_sysv_excl(ipc_record) -> None:
    """shmget() with IPC_CREAT|IPC_EXCL on a key that exists fails with EEXIST; without
    IPC_CREAT a missing key fails with ENOENT (shmget(2) ERRORS; gVisor shm.cc; LTP
    shmget02)."""
    key = int.from_bytes(os.urandom(4), "little") & 0x3FFFFFFF | 0x40000000
    shmid = px.shmget(key, PAGE, px.IPC_CREAT | px.IPC_EXCL | 0o600)
    try:
        again = outcome(px.shmget, key, PAGE, px.IPC_CREAT | px.IPC_EXCL | 0o600)
    finally:
        px.shmctl_rmid(shmid)
    missing = outcome(px.shmget, key, PAGE, 0o600)
    ipc_record.observe("IPC_EXCL again, lookup after removal", [again, missing])
    assert again == "EEXIST"
    assert missing == "ENOENT"
