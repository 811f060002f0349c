"""Naming and binding of AF_UNIX sockets: socket files, abstract names, autobind, addresses.

unix(7) is the main reference ("Address format", "Pathname socket ownership and permissions",
"Autobind feature"); bind(2), connect(2), getsockname(2), getpeername(2) and the POSIX pages
for bind(), connect() and open() give the errors.  Properties are expressed once and run over
the three socket types where the type does not change the answer.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_unixipc import SOCKET_KINDS, socket_type
from pytest_unixipc.creds import (
    SUN_PATH_SIZE,
    SocketSet,
    abstract_name,
    drop_privileges,
    errno_name,
    other_user_ids,
    outcome,
    raw_bind,
    unshare_network_namespace,
)

IS_LINUX = os.uname().sysname == "Linux"
CONNECTION_KINDS = ("stream", "seqpacket")
KIND_PAIRS = [(a, b) for a in SOCKET_KINDS for b in SOCKET_KINDS if a != b]


def server_for(socks: SocketSet, path: str | bytes, kind: str) -> socket.socket:
    """Something a client of ``kind`` can reach at ``path``: a listener, or a bound dgram."""
    if kind in CONNECTION_KINDS:
        return socks.listening(path, kind)
    return socks.bound(path, kind)


def path_of_length(directory: Path, length: int) -> bytes:
    """A path in ``directory`` exactly ``length`` bytes long."""
    head = os.fsencode(directory) + b"/"
    if length <= len(head):
        raise ValueError(f"directory {directory} is too long for a {length}-byte path")
    return head + b"n" * (length - len(head))


# -- socket files ---------------------------------------------------------------------------


@pytest.mark.ipc_property("naming.socket-file", ref="unix(7) Address format; bind(2)")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_socket_file(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """bind() of a pathname creates a filesystem entry of type S_IFSOCK at that path (unix(7):
    sockets can be "bound to a filesystem pathname (marked as being of type socket)")."""
    assert not os.path.lexists(unix_socket_path)
    socks.bound(unix_socket_path, kind)
    st = os.lstat(unix_socket_path)
    ipc_record.observe("file type", stat.filemode(st.st_mode))
    assert stat.S_ISSOCK(st.st_mode), f"bind() made {stat.filemode(st.st_mode)}, not a socket"


@pytest.mark.ipc_property("naming.umask", ref="unix(7) Pathname socket ownership and permissions")
def test_umask(ipc_record, socks: SocketSet, unix_socket_path: str) -> None:
    """The socket file's permission bits are 0777 masked by the process umask, as for any file a
    system call creates (umask(2)), and its owner is the binding process's effective uid
    (unix(7) "Pathname socket ownership and permissions")."""
    old = os.umask(0o027)
    try:
        socks.bound(unix_socket_path)
    finally:
        os.umask(old)
    st = os.lstat(unix_socket_path)
    ipc_record.observe("mode with umask 027", oct(stat.S_IMODE(st.st_mode)))
    assert stat.S_IMODE(st.st_mode) == 0o750
    assert st.st_uid == os.geteuid()


@pytest.mark.ipc_property("naming.eaddrinuse", ref="unix(7); bind(2) EADDRINUSE")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_eaddrinuse(ipc_record, socks: SocketSet, ipc_tmp_path: Path, kind: str) -> None:
    """bind() to a path that already exists fails with EADDRINUSE: a live socket's file, a stale
    one left by a closed socket, or any other file (bind(2): "The given address is already in
    use"; unix(7) pathname sockets are not removed on close)."""
    live, stale, regular = (str(ipc_tmp_path / name) for name in ("live", "stale", "regular"))
    socks.bound(live, kind)
    socks.bound(stale, kind).close()
    Path(regular).touch()
    socks.remove_later(regular)
    results = {
        name: outcome(socks.new(kind).bind, p)
        for name, p in (("live", live), ("stale", stale), ("regular file", regular))
    }
    ipc_record.observe("bind() to an existing path", results)
    assert results == dict.fromkeys(results, "EADDRINUSE")


@pytest.mark.ipc_property("naming.unlink-rebind", ref="unix(7); unlink(2)")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_unlink_rebind(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """After unlink() of a stale socket file, bind() to the same path succeeds (unix(7): the
    file must be removed with unlink(2) before the name can be reused)."""
    socks.bound(unix_socket_path, kind).close()
    assert outcome(socks.new(kind).bind, unix_socket_path) == "EADDRINUSE"
    os.unlink(unix_socket_path)
    result = outcome(socks.bind, socks.new(kind), unix_socket_path)
    ipc_record.observe("bind() after unlink()", result)
    assert result == "ok"
    assert stat.S_ISSOCK(os.lstat(unix_socket_path).st_mode)


@pytest.mark.ipc_property("naming.close-keeps-file", ref="unix(7)")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_close_keeps_file(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """Closing a bound socket does not remove its socket file; the program must unlink it
    (unix(7) NOTES: binding "creates a socket in the filesystem that must be deleted by the
    caller when it is no longer needed (using unlink(2))")."""
    socks.bound(unix_socket_path, kind).close()
    kept = os.path.lexists(unix_socket_path)
    ipc_record.observe("file after close()", "present" if kept else "removed")
    assert kept, "closing the bound socket removed its file"


@pytest.mark.ipc_property("naming.double-bind", ref="bind(2) EINVAL; GV DoubleBind")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_double_bind(ipc_record, socks: SocketSet, ipc_tmp_path: Path, kind: str) -> None:
    """bind() of a socket that is already bound fails with EINVAL, and the failed call creates
    no file at the second path (bind(2): "The socket is already bound to an address")."""
    first, second = str(ipc_tmp_path / "first"), str(ipc_tmp_path / "second")
    sock = socks.bound(first, kind)
    socks.remove_later(second)
    result = outcome(sock.bind, second)
    ipc_record.observe("second bind()", result)
    assert result == "EINVAL"
    assert not os.path.lexists(second), "the failed bind() created a file"
    assert sock.getsockname() == first


@pytest.mark.ipc_property("naming.bind-other-type", ref="unix(7); bind(2) EADDRINUSE")
@pytest.mark.parametrize(("first", "second"), KIND_PAIRS)
def test_bind_other_type(
    ipc_record, socks: SocketSet, unix_socket_path: str, first: str, second: str
) -> None:
    """Pathname sockets share one namespace whatever their type: a socket of another type
    cannot bind a path in use (EADDRINUSE), unlike abstract names (bind(2), unix(7))."""
    socks.bound(unix_socket_path, first)
    result = outcome(socks.new(second).bind, unix_socket_path)
    ipc_record.observe(f"{second} bind() to a {first} socket's path", result)
    assert result == "EADDRINUSE"


@pytest.mark.ipc_property("naming.bad-dir", ref="bind(2) ENOENT, ENOTDIR; path_resolution(7)")
@pytest.mark.parametrize(
    ("case", "expected"), [("missing dir", "ENOENT"), ("file as dir", "ENOTDIR")]
)
def test_bad_dir(
    ipc_record, socks: SocketSet, ipc_tmp_path: Path, case: str, expected: str
) -> None:
    """bind() in a directory that does not exist fails with ENOENT; when a path prefix is a
    regular file it fails with ENOTDIR (bind(2) ERRORS for the UNIX domain)."""
    if case == "file as dir":
        prefix = ipc_tmp_path / "plain"
        prefix.touch()
        socks.remove_later(str(prefix))
    else:
        prefix = ipc_tmp_path / "missing"
    result = outcome(socks.new().bind, str(prefix / "sock"))
    ipc_record.observe(f"bind() with a {case}", result)
    assert result == expected


@pytest.mark.ipc_property("naming.open-socket-file", ref="POSIX open() EOPNOTSUPP; open(2) ENXIO")
def test_open_socket_file(ipc_record, socks: SocketSet, unix_socket_path: str) -> None:
    """open() on a socket file fails: POSIX says EOPNOTSUPP ("The path argument names a
    socket"); Linux gives ENXIO (open(2)), FreeBSD and macOS EOPNOTSUPP."""
    socks.bound(unix_socket_path)
    try:
        fd = os.open(unix_socket_path, os.O_RDWR)
    except OSError as exc:
        observed = errno_name(exc)
    else:
        os.close(fd)
        observed = "opened"
    ipc_record.expect(
        observed, portable="EOPNOTSUPP", linux="ENXIO", darwin="EOPNOTSUPP", freebsd="EOPNOTSUPP"
    )


@pytest.mark.ipc_property("naming.after-nul", ref="unix(7) pathname sockets; GV AddressAfterNull")
def test_after_nul(ipc_record, socks: SocketSet, ipc_tmp_path: Path) -> None:
    """In a pathname address the name ends at the first NUL: bytes after it are ignored, so
    "p\\0junk" binds "p" and then collides with it (unix(7): a pathname socket is bound to "a
    null-terminated filesystem pathname"; GV AddressAfterNull)."""
    path = os.fsencode(ipc_tmp_path / "p")
    socks.remove_later(path)
    socks.new().bind(path + b"\0junk")
    entries = sorted(os.listdir(ipc_tmp_path))
    second = outcome(socks.new().bind, path + b"\0other")
    ipc_record.observe("files after bind('p\\0junk')", entries)
    ipc_record.observe("bind('p\\0other')", second)
    assert entries == ["p"]
    assert second == "EADDRINUSE"


@pytest.mark.ipc_property("naming.bytes-path", ref="unix(7); CPython socket AF_UNIX addresses")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_bytes_path(ipc_record, socks: SocketSet, ipc_tmp_path: Path, kind: str) -> None:
    """A pathname is bytes, not text: a non-UTF-8 name binds, and getsockname() returns it
    (CPython decodes it with the filesystem encoding and surrogateescape) (unix(7))."""
    raw = os.fsencode(ipc_tmp_path) + b"/\xff\xfe-sock"
    sock = socks.bound(raw, kind)
    name = sock.getsockname()
    ipc_record.observe("getsockname()", repr(name))
    assert os.fsencode(name) == raw
    assert os.path.lexists(raw)


# -- the sun_path limit ----------------------------------------------------------------------


def _longest(bind_ok: object, directory: Path, start: int, floor: int) -> int:
    """The largest length in [floor, start] for which ``bind_ok(path)`` is true."""
    for length in range(start, floor - 1, -1):
        if bind_ok(path_of_length(directory, length)):  # type: ignore[operator]
            return length
    raise AssertionError(f"no path of {floor}..{start} bytes could be bound")


@pytest.mark.ipc_property("naming.path-too-long", ref="unix(7) Address format; POSIX bind() EINVAL")
def test_path_too_long(ipc_record, socks: SocketSet, ipc_tmp_path: Path) -> None:
    """A path longer than sun_path (108 bytes on Linux, 104 on the BSDs and macOS) is refused:
    the kernel gives EINVAL for an address longer than struct sockaddr_un (POSIX bind(): "The
    address_len argument is not a valid length for the address family"); CPython refuses more
    than sizeof(sun_path) - 1 bytes itself with an OSError that has no errno; no platform gives
    ENAMETOOLONG.  The longest length works; Linux takes a sun_path-filling path without NUL
    through a raw address (unix(7) BUGS)."""

    def cpython_binds(path: bytes) -> bool:
        sock = socks.new()
        try:
            sock.bind(path)
        except OSError as exc:
            ipc_record.observe(f"CPython bind() of {len(path)} bytes", f"{errno_name(exc)}: {exc}")
            return False
        finally:
            sock.close()
        os.unlink(path)
        return True

    def kernel_binds(path: bytes) -> bool:
        sock = socks.new()
        try:
            raw_bind(sock, path)
        except OSError as exc:
            ipc_record.observe(f"raw bind() of {len(path)} bytes", errno_name(exc))
            return False
        finally:
            sock.close()
        os.unlink(path)
        return True

    cpython_max = _longest(cpython_binds, ipc_tmp_path, SUN_PATH_SIZE + 1, SUN_PATH_SIZE - 8)
    kernel_max = _longest(kernel_binds, ipc_tmp_path, SUN_PATH_SIZE + 1, SUN_PATH_SIZE - 8)
    ipc_record.limit("sun_path", kernel_max, "bytes (raw sockaddr_un, no NUL)")
    ipc_record.limit("sun_path (CPython)", cpython_max, "bytes")

    too_long = socks.new()
    try:
        too_long.bind(path_of_length(ipc_tmp_path, SUN_PATH_SIZE + 1))
    except OSError as exc:
        cpython_error = exc
    else:
        raise AssertionError(f"CPython bound a {SUN_PATH_SIZE + 1}-byte path")
    assert cpython_error.errno is None, cpython_error
    assert "too long" in str(cpython_error), cpython_error
    assert cpython_max == SUN_PATH_SIZE - 1

    over = outcome(raw_bind, socks.new(), path_of_length(ipc_tmp_path, SUN_PATH_SIZE + 1))
    ipc_record.expect(
        f"over-long address: {over}; full sun_path without NUL: "
        + ("accepted" if kernel_max == SUN_PATH_SIZE else "refused"),
        portable="over-long address: EINVAL; full sun_path without NUL: refused",
        linux="over-long address: EINVAL; full sun_path without NUL: accepted",
        note="CPython keeps one byte for the NUL; the Linux kernel does not need it (unix(7))",
    )


# -- connecting by name ----------------------------------------------------------------------


@pytest.mark.ipc_property("naming.connect-enoent", ref="unix(7); connect(2) ENOENT")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_connect_enoent(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """connect() to a path that does not exist fails with ENOENT (POSIX connect(): "A component
    of the pathname does not name an existing file")."""
    result = outcome(socks.new(kind).connect, unix_socket_path)
    ipc_record.observe("connect() to a missing path", result)
    assert result == "ENOENT"


@pytest.mark.ipc_property("naming.connect-refused", ref="unix(7); connect(2) ECONNREFUSED")
@pytest.mark.parametrize(
    ("kind", "state"),
    [(kind, "stale file") for kind in SOCKET_KINDS]
    + [(kind, "bound, not listening") for kind in CONNECTION_KINDS],
)
def test_connect_refused(
    ipc_record, socks: SocketSet, unix_socket_path: str, kind: str, state: str
) -> None:
    """connect() to a socket file with no listener fails with ECONNREFUSED: the file of a
    closed socket, or a stream/seqpacket socket that is bound but not listening (connect(2):
    "found no one listening on the remote address"; unix(7) ECONNREFUSED)."""
    target = socks.bound(unix_socket_path, kind)
    if state == "stale file":
        target.close()
    result = outcome(socks.new(kind).connect, unix_socket_path)
    ipc_record.observe(f"connect() to a {state}", result)
    assert result == "ECONNREFUSED"


@pytest.mark.ipc_property("naming.connect-regular-file", ref="connect(2); GV ConnectToFilePath")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_connect_regular_file(
    ipc_record, socks: SocketSet, unix_socket_path: str, kind: str
) -> None:
    """connect() to a path that is a regular file, not a socket, fails with ECONNREFUSED on
    Linux (unix(7) ECONNREFUSED: "the remote socket does not exist or the filename is not a
    socket"; GV ConnectToFilePath)."""
    Path(unix_socket_path).touch()
    socks.remove_later(unix_socket_path)
    result = outcome(socks.new(kind).connect, unix_socket_path)
    ipc_record.expect(result, linux="ECONNREFUSED")


@pytest.mark.ipc_property("naming.connect-wrong-type", ref="unix(7); connect(2) EPROTOTYPE")
@pytest.mark.parametrize(("server", "client"), KIND_PAIRS)
def test_connect_wrong_type(
    ipc_record, socks: SocketSet, unix_socket_path: str, server: str, client: str
) -> None:
    """connect() to a socket of another type fails with EPROTOTYPE (POSIX connect(): "The
    specified address has a different type than the socket bound to the specified peer
    address")."""
    server_for(socks, unix_socket_path, server)
    result = outcome(socks.new(client).connect, unix_socket_path)
    ipc_record.observe(f"{client} connect() to a {server} socket", result)
    assert result == "EPROTOTYPE"


def _roundtrip(client: socket.socket, conn: socket.socket) -> bytes:
    client.sendall(b"ping")
    return conn.recv(16)


@pytest.mark.ipc_property("naming.unlink-listener", ref="unix(7); unlink(2)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_unlink_listener(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """Unlinking a listener's socket file while it is bound: connect() by that path fails with
    ENOENT, connections made before keep working, and the path can be bound again by another
    socket (the name is the file, the socket is not; unix(7))."""
    listener = socks.listening(unix_socket_path, kind)
    client = socks.connected(unix_socket_path, kind)
    conn = socks.accept(listener)
    os.unlink(unix_socket_path)
    after = outcome(socks.new(kind).connect, unix_socket_path)
    still = _roundtrip(client, conn)
    rebind = outcome(socks.bind, socks.new(kind), unix_socket_path)
    ipc_record.observe("connect() after unlink()", after)
    ipc_record.observe("existing connection", still.decode())
    ipc_record.observe("bind() of the path again", rebind)
    assert (after, still, rebind) == ("ENOENT", b"ping", "ok")


@pytest.mark.ipc_property("naming.rename-listener", ref="unix(7); rename(2)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_rename_listener(ipc_record, socks: SocketSet, ipc_tmp_path: Path, kind: str) -> None:
    """Renaming a listener's socket file moves the name: connect() by the new path reaches the
    same listener, the old path gives ENOENT, and getsockname() still reports the path given
    to bind() (connect() finds the socket through the file, rename(2) keeps the file)."""
    old, new = str(ipc_tmp_path / "old"), str(ipc_tmp_path / "new")
    listener = socks.listening(old, kind)
    os.rename(old, new)
    socks.remove_later(new)
    old_result = outcome(socks.new(kind).connect, old)
    client = socks.connected(new, kind)
    conn = socks.accept(listener)
    ipc_record.observe("connect() by the old path", old_result)
    ipc_record.observe("listener getsockname()", listener.getsockname())
    assert old_result == "ENOENT"
    assert _roundtrip(client, conn) == b"ping"
    assert listener.getsockname() == old


def _reach(kind: str, target: str) -> str:
    """connect() (stream, seqpacket) or sendto() (dgram) ``target``: "ok" or the errno name."""
    with socket.socket(socket.AF_UNIX, socket_type(kind)) as sock:
        if kind == "dgram":
            return outcome(sock.sendto, b"x", target)
        return outcome(sock.connect, target)


def _reach_as(_sock: socket.socket, uid: int, gid: int, kind: str, targets: dict[str, str]):
    drop_privileges(uid, gid)
    return {name: _reach(kind, target) for name, target in targets.items()}


def _bind_as(_sock: socket.socket, uid: int, gid: int, targets: dict[str, str]):
    drop_privileges(uid, gid)
    results = {}
    for name, target in targets.items():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            results[name] = outcome(sock.bind, target)
        if results[name] == "ok":
            os.unlink(target)
    return results


@contextlib.contextmanager
def _open_to_others(directory: Path) -> Iterator[None]:
    """Let other users search ``directory`` (0711) for a while, then restore its mode."""
    mode = stat.S_IMODE(os.stat(directory).st_mode)
    os.chmod(directory, 0o711)
    try:
        yield
    finally:
        os.chmod(directory, mode)


def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: a forked child must switch to another uid")


@pytest.mark.ipc_property(
    "naming.permissions", ref="unix(7) Pathname socket ownership and permissions"
)
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_permissions(
    ipc_record, socks: SocketSet, ipc_tmp_path: Path, forked_peer, kind: str
) -> None:
    """Reaching a socket by path needs write permission on the socket file and search
    permission on its directories: another user is refused (EACCES) by a socket file without
    write permission for it and by a 0700 directory, and reaches a 0777 socket in an open
    directory (unix(7): "connecting to a stream socket object requires write permission on
    that socket; sending a datagram to a datagram socket likewise requires write permission on
    that socket"; POSIX leaves socket file permissions unspecified and older BSDs ignore
    them)."""
    _needs_root()
    uid, gid = other_user_ids()
    opened, private = ipc_tmp_path / "open", ipc_tmp_path / "private"
    opened.mkdir(mode=0o755)
    private.mkdir(mode=0o700)
    paths = {
        "0777 socket, 0755 dir": opened / "rw",
        "0755 socket, 0755 dir": opened / "ro",
        "0777 socket, 0700 dir": private / "rw",
    }
    try:
        for name, path in paths.items():
            server_for(socks, str(path), kind)
            os.chmod(path, 0o755 if name.startswith("0755") else 0o777)
        with _open_to_others(ipc_tmp_path):
            targets = {k: str(v) for k, v in paths.items()}
            results = forked_peer(_reach_as, uid, gid, kind, targets).join()
    finally:
        socks.close()
        opened.rmdir()
        private.rmdir()
    ipc_record.observe(f"{kind}: reached as uid {uid}", results)
    assert results == {
        "0777 socket, 0755 dir": "ok",
        "0755 socket, 0755 dir": "EACCES",
        "0777 socket, 0700 dir": "EACCES",
    }


@pytest.mark.ipc_property("naming.bind-permission", ref="unix(7) Pathname socket ownership")
def test_bind_permission(ipc_record, ipc_tmp_path: Path, forked_peer) -> None:
    """Creating a socket file needs write and search permission on its directory: another
    user's bind() fails with EACCES in a 0755 root directory and succeeds in a 0777 one
    (unix(7): "Creation of a new socket fails if the process does not have write and search
    (execute) permission on the directory in which the socket is created")."""
    _needs_root()
    uid, gid = other_user_ids()
    closed, shared = ipc_tmp_path / "closed", ipc_tmp_path / "shared"
    closed.mkdir(mode=0o755)
    shared.mkdir()
    os.chmod(shared, 0o777)
    targets = {"0755 dir": str(closed / "s"), "0777 dir": str(shared / "s")}
    try:
        with _open_to_others(ipc_tmp_path):
            results = forked_peer(_bind_as, uid, gid, targets).join()
    finally:
        for target in targets.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
        closed.rmdir()
        shared.rmdir()
    ipc_record.observe(f"bind() as uid {uid}", results)
    assert results == {"0755 dir": "EACCES", "0777 dir": "ok"}


@pytest.mark.ipc_property("naming.links", ref="path_resolution(7); symlink(7); unix(7)")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_links(ipc_record, socks: SocketSet, ipc_tmp_path: Path, kind: str) -> None:
    """Names resolve like other files: a symbolic link or a hard link to a socket file reaches
    the socket; but bind() does not follow a symbolic link, so binding a dangling symlink
    fails with EADDRINUSE and creates nothing at its target (path_resolution(7); bind(2))."""
    real, soft, hard = (str(ipc_tmp_path / n) for n in ("real", "soft", "hard"))
    dangling, nowhere = str(ipc_tmp_path / "dangling"), str(ipc_tmp_path / "nowhere")
    server_for(socks, real, kind)
    os.symlink(real, soft)
    os.link(real, hard)
    os.symlink(nowhere, dangling)
    for path in (soft, hard, dangling):
        socks.remove_later(path)
    results = {
        "via symlink": _reach(kind, soft),
        "via hard link": _reach(kind, hard),
        "bind() at a dangling symlink": outcome(socks.new(kind).bind, dangling),
    }
    ipc_record.observe("results", results)
    assert not os.path.lexists(nowhere), "bind() followed the symlink and created its target"
    assert results == {
        "via symlink": "ok",
        "via hard link": "ok",
        "bind() at a dangling symlink": "EADDRINUSE",
    }


def _bind_relative(_sock: socket.socket, deep: str, kind: str) -> dict[str, str]:
    os.chdir(deep)
    with socket.socket(socket.AF_UNIX, socket_type(kind)) as server:
        server.bind("rel")
        try:
            if kind != "dgram":
                server.listen(1)
            return {"getsockname()": server.getsockname(), "reach": _reach(kind, "rel")}
        finally:
            os.unlink("rel")


@pytest.mark.ipc_property("naming.relative-path", ref="unix(7) Address format; path_resolution(7)")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_relative_path(ipc_record, ipc_tmp_path: Path, forked_peer, kind: str) -> None:
    """A relative pathname is resolved from the current directory, so a socket deep in a tree
    whose absolute path would overflow sun_path can still be bound and reached by a short
    relative name; getsockname() returns the name as given (unix(7); path_resolution(7))."""
    deep = ipc_tmp_path.joinpath(*["d" * 60] * 2)
    deep.mkdir(parents=True)
    try:
        result = forked_peer(_bind_relative, str(deep), kind).join()
    finally:
        deep.rmdir()
        deep.parent.rmdir()
    ipc_record.observe("absolute path length", len(os.fsencode(deep / "rel")))
    ipc_record.observe("relative name", result)
    assert len(os.fsencode(deep / "rel")) >= SUN_PATH_SIZE
    assert result == {"getsockname()": "rel", "reach": "ok"}


def _reach_from_new_netns(_sock: socket.socket, name: bytes, path: str) -> str:
    try:
        unshare_network_namespace()
    except OSError as exc:
        return f"unshare(CLONE_NEWNET): {errno_name(exc)}"
    with socket.socket(socket.AF_UNIX) as by_name, socket.socket(socket.AF_UNIX) as by_path:
        abstract, pathname = outcome(by_name.connect, name), outcome(by_path.connect, path)
    return f"abstract: {abstract}; pathname: {pathname}"


@pytest.mark.ipc_property("naming.abstract-netns", ref="unix(7); network_namespaces(7)")
def test_abstract_netns(ipc_record, socks: SocketSet, unix_socket_path: str, forked_peer) -> None:
    """(Linux, root) Abstract names belong to a network namespace: from a new one, connect() to
    an abstract name bound outside fails with ECONNREFUSED, while a pathname socket is still
    reached through the filesystem (network_namespaces(7): namespaces isolate "UNIX domain
    abstract socket namespace"; Linux selftest unix_connect)."""
    _needs_root()
    name = abstract_name("netns")
    socks.listening(name)
    socks.listening(unix_socket_path)
    result = forked_peer(_reach_from_new_netns, name, unix_socket_path).join()
    ipc_record.expect(result, linux="abstract: ECONNREFUSED; pathname: ok")


# -- addresses of accepted connections (more in test_sockname.py) ---------------------------


@pytest.mark.ipc_property("naming.accepted-names", ref="accept(2); getsockname(2); unix(7)")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
@pytest.mark.parametrize("client", ["unbound client", "bound client"])
def test_accepted_names(
    ipc_record, socks: SocketSet, ipc_tmp_path: Path, kind: str, client: str
) -> None:
    """An accepted socket is named like its listener (getsockname() is the listener's path) and
    its peer name is the client's: its bound path, or '' for an unbound client, which is also
    what accept() returns as the address (accept(2), unix(7))."""
    server_path, client_path = str(ipc_tmp_path / "srv"), str(ipc_tmp_path / "cli")
    listener = socks.listening(server_path, kind)
    sock = socks.new(kind)
    if client == "bound client":
        socks.bind(sock, client_path)
    sock.connect(server_path)
    conn, address = listener.accept()
    socks.adopt(conn)
    expected_client = client_path if client == "bound client" else ""
    names = {
        "accept() address": address,
        "accepted getsockname()": conn.getsockname(),
        "accepted getpeername()": conn.getpeername(),
        "client getsockname()": sock.getsockname(),
    }
    ipc_record.observe("names", names)
    assert names == {
        "accept() address": expected_client,
        "accepted getsockname()": server_path,
        "accepted getpeername()": expected_client,
        "client getsockname()": expected_client,
    }


# -- abstract names and autobind (Linux) -----------------------------------------------------


def abstract_unsupported(ipc_record, socks: SocketSet, linux: str) -> bool:
    """Whether this platform rejects abstract names; if so, record it (unverified off Linux,
    a failure on Linux, where ``linux`` is the documented result) and let the test return."""
    try:
        socks.bound(abstract_name("probe"))
    except OSError as exc:
        ipc_record.expect(f"abstract names unsupported: bind() {errno_name(exc)}", linux=linux)
        return True
    return False


def _abstract_roundtrip(socks: SocketSet, name: bytes, kind: str) -> str:
    """Bind ``name``, reach it from a client, close it; describe what happened."""
    server = server_for(socks, name, kind)
    client = socks.new(kind)
    if kind in CONNECTION_KINDS:
        client.connect(name)
        socks.accept(server)
    else:
        client.sendto(b"x", name)
        assert server.recv(4) == b"x"
    server.close()
    freed = outcome(socks.new(kind).bind, name)
    return f"reachable; freed on close: {freed}"


@pytest.mark.ipc_property("naming.abstract", ref="unix(7) abstract socket address")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_abstract(ipc_record, socks: SocketSet, ipc_tmp_path: Path, kind: str) -> None:
    """(Linux) A name whose first byte is NUL is abstract: it creates no file, getsockname()
    returns exactly those bytes, clients reach it, and the name is freed when the socket closes
    (unix(7) abstract: "The name has no connection with filesystem pathnames")."""
    name = abstract_name(kind)
    before = sorted(os.listdir(ipc_tmp_path))
    try:
        sock = socks.bound(name, kind)
    except OSError as exc:
        ipc_record.expect(f"bind() failed: {errno_name(exc)}", linux="abstract")
        return
    ipc_record.observe("getsockname()", repr(sock.getsockname()))
    assert sock.getsockname() == name
    assert sorted(os.listdir(ipc_tmp_path)) == before
    if IS_LINUX:
        with open("/proc/net/unix") as table:
            listed = "@" + name[1:].decode() in table.read()
        ipc_record.observe("listed in /proc/net/unix", listed)
        assert listed
    sock.close()
    ipc_record.observe("lifecycle", _abstract_roundtrip(socks, name, kind))
    ipc_record.expect("abstract", linux="abstract")


@pytest.mark.ipc_property("naming.abstract-eaddrinuse", ref="unix(7); bind(2) EADDRINUSE")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_abstract_eaddrinuse(ipc_record, socks: SocketSet, kind: str) -> None:
    """(Linux) Binding an abstract name that a socket of the same type holds fails with
    EADDRINUSE, also when the name was assigned by autobind (unix(7); GV AutoBindAddrInUse)."""
    if abstract_unsupported(ipc_record, socks, "EADDRINUSE"):
        return
    name = abstract_name()
    socks.bound(name, kind)
    auto = socks.bound("", kind).getsockname()
    results = {
        "explicit name": outcome(socks.new(kind).bind, name),
        "autobound name": outcome(socks.new(kind).bind, auto),
    }
    ipc_record.observe("second bind()", results)
    ipc_record.expect(
        "EADDRINUSE" if set(results.values()) == {"EADDRINUSE"} else repr(results),
        linux="EADDRINUSE",
    )


@pytest.mark.ipc_property("naming.abstract-per-type", ref="unix(7); FB unix_abstract")
def test_abstract_per_type(ipc_record, socks: SocketSet) -> None:
    """(Linux) Abstract names are looked up per socket type: one name can be bound at once by a
    stream, a datagram and a seqpacket socket, while pathnames collide across types
    (naming.bind-other-type)."""
    name = abstract_name()
    results = {kind: outcome(socks.bind, socks.new(kind), name) for kind in SOCKET_KINDS}
    ipc_record.observe("bind() of one name by each type", results)
    ipc_record.expect(
        "per type" if set(results.values()) == {"ok"} else repr(results), linux="per type"
    )


@pytest.mark.ipc_property("naming.abstract-separate", ref="unix(7) abstract vs pathname")
def test_abstract_separate(ipc_record, socks: SocketSet, unix_socket_path: str) -> None:
    """(Linux) The abstract and pathname namespaces do not overlap: "\\0" + path and path bind
    two different sockets, and a client reaches the one it names (unix(7))."""
    if abstract_unsupported(ipc_record, socks, "separate"):
        return
    path = os.fsencode(unix_socket_path)
    by_path = socks.listening(path)
    by_name = socks.listening(b"\0" + path)
    socks.connected(b"\0" + path)
    readable = {
        "pathname listener": _pending(by_path),
        "abstract listener": _pending(by_name),
    }
    ipc_record.observe("after connect() to the abstract name", readable)
    ipc_record.expect(
        "separate"
        if readable == {"pathname listener": False, "abstract listener": True}
        else repr(readable),
        linux="separate",
    )


def _pending(listener: socket.socket) -> bool:
    """Whether a connection waits in ``listener``'s accept queue (poll POLLIN, no wait)."""
    import select

    poller = select.poll()
    poller.register(listener.fileno(), select.POLLIN)
    return bool(poller.poll(0))


@pytest.mark.ipc_property("naming.abstract-connect-refused", ref="unix(7); connect(2) ECONNREFUSED")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_abstract_connect_refused(ipc_record, socks: SocketSet, kind: str) -> None:
    """(Linux) connect() to an abstract name nobody has bound fails with ECONNREFUSED (there is
    no file whose absence could give ENOENT; GV ConnectToInvalidAbstractPath)."""
    result = outcome(socks.new(kind).connect, abstract_name("nobody"))
    ipc_record.expect(result, linux="ECONNREFUSED")


@pytest.mark.ipc_property("naming.abstract-bytes", ref="unix(7) abstract: addrlen defines the name")
def test_abstract_bytes(ipc_record, socks: SocketSet) -> None:
    """(Linux) An abstract name is all the bytes of the address: embedded and trailing NULs
    count, so "\\0n" and "\\0n\\0" are two names, and getsockname() returns each exactly
    (unix(7): the name "is given by the additional bytes in sun_path that are covered by the
    specified length of the address structure. (Null bytes in the name have no special
    significance.)"). The longest is sizeof(sun_path) bytes including the leading NUL."""
    if abstract_unsupported(ipc_record, socks, "ok/EINVAL"):
        return
    base = abstract_name()
    variants = [base, base + b"\0", base + b"\0x"]
    names = [socks.bound(name).getsockname() for name in variants]
    longest = b"\0" + b"a" * (SUN_PATH_SIZE - len(base)) + base[1:]
    full = socks.new()
    results = {
        f"{len(longest)} bytes": outcome(raw_bind, full, longest),
        f"{len(longest) + 1} bytes": outcome(raw_bind, socks.new(), longest + b"x"),
    }
    ipc_record.observe("getsockname() of the variants", [repr(n) for n in names])
    ipc_record.observe("bind() of the longest abstract name and one byte more", results)
    if results[f"{len(longest)} bytes"] == "ok":
        ipc_record.limit("abstract name", len(full.getsockname()), "bytes (with the leading NUL)")
    assert names == variants
    ipc_record.expect("/".join(results.values()), linux="ok/EINVAL")


@pytest.mark.ipc_property("naming.autobind", ref="unix(7) Autobind feature")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_autobind(ipc_record, socks: SocketSet, ipc_tmp_path: Path, kind: str) -> None:
    """(Linux) bind() with an address of only sun_family (CPython: bind("")) autobinds: the
    socket gets an abstract name of a NUL and five hex digits, different for each socket, and
    no file (unix(7) "Autobind feature": "a null byte followed by 5 bytes in the character set
    [0-9a-f]")."""
    names = []
    for _ in range(2):
        try:
            names.append(socks.bound("", kind).getsockname())
        except OSError as exc:
            ipc_record.expect(f"bind('') failed: {errno_name(exc)}", linux="autobind")
            return
    ipc_record.observe("autobound names", [repr(n) for n in names])
    shaped = all(isinstance(n, bytes) and re.fullmatch(rb"\0[0-9a-f]{5}", n) for n in names)
    assert os.listdir(ipc_tmp_path) == []
    ipc_record.expect(
        "autobind" if shaped and names[0] != names[1] else repr(names), linux="autobind"
    )
