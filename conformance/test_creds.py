"""Credentials over AF_UNIX sockets: SO_PEERCRED, SO_PASSCRED / SCM_CREDENTIALS, SO_PEERPIDFD,
and what a descriptor passed to another user lets it do.

unix(7) ("SO_PASSCRED", "SO_PEERCRED", "SCM_CREDENTIALS") and socket(7) are the references.
The credential messages are Linux's; the BSDs and macOS have LOCAL_PEERCRED, getpeereid(3)
and LOCAL_CREDS instead, so the Linux-only properties record what the platform does through
``ipc_record.expect`` (unverified elsewhere) rather than being skipped.  Properties that need
another uid run only as root: the forked child drops to ``nobody`` with setresuid(2).
"""

from __future__ import annotations

import os
import platform
import socket
import sys
from pathlib import Path

import pytest

from pytest_unixipc import SOCKET_KINDS, socket_type
from pytest_unixipc.creds import (
    SO_PASSCRED,
    SO_PEERPIDFD,
    FdSet,
    SocketSet,
    Ucred,
    credentials_cmsg,
    drop_privileges,
    errno_name,
    other_user_ids,
    outcome,
    peer_credentials,
    recv_ancillary,
    rights_cmsg,
    same_open_file,
)

IS_LINUX = platform.system() == "Linux"
IS_ROOT = os.geteuid() == 0
WAIT = 5.0
CONNECTION_KINDS = ("stream", "seqpacket")


def me() -> Ucred:
    return Ucred(os.getpid(), os.geteuid(), os.getegid())


def passcred(sock: socket.socket) -> str:
    """Turn SO_PASSCRED on: "ok", or the errno name where the platform lacks it."""
    return outcome(sock.setsockopt, socket.SOL_SOCKET, SO_PASSCRED, 1)


def pair(socks: SocketSet, kind: str) -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair(socket.AF_UNIX, socket_type(kind))
    for end in (socks.adopt(a), socks.adopt(b)):
        end.settimeout(WAIT)
    return a, b


def _nobody() -> tuple[int, int]:
    """The uid/gid a child switches to: nobody when root, else our own (no switch possible)."""
    return other_user_ids() if IS_ROOT else (os.getuid(), os.getgid())


def _become(uid: int, gid: int) -> None:
    if IS_ROOT:
        drop_privileges(uid, gid)


# -- SO_PEERCRED -----------------------------------------------------------------------------


def _connect_and_report(sock: socket.socket, path: str) -> tuple[int, Ucred]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(WAIT)
        client.connect(path)
        seen = peer_credentials(client)
        sock.sendall(b"connected")
        sock.recv(1)  # stay connected until the parent has read its side
    return os.getpid(), seen


@pytest.mark.ipc_property("creds.peercred", ref="unix(7) SO_PEERCRED; socket(7)")
def test_peercred(ipc_record, socks: SocketSet, unix_socket_path: str, forked_peer) -> None:
    """SO_PEERCRED reports the peer's pid, uid and gid: on the accepted socket those of the
    process that called connect(), on the client those of the process that called listen()
    (unix(7) SO_PEERCRED: "The returned credentials are those that were in effect at the time
    of the call to connect(2), listen(2), or socketpair(2)")."""
    listener = socks.listening(unix_socket_path)
    listener.settimeout(WAIT)
    peer = forked_peer(_connect_and_report, unix_socket_path)
    peer.sock.settimeout(WAIT)
    assert peer.sock.recv(16) == b"connected"
    accepted = peer_credentials(socks.accept(listener))
    peer.sock.sendall(b"x")
    child_pid, client_view = peer.join(WAIT)
    ipc_record.observe("accepted socket: peer", accepted._asdict())
    ipc_record.observe("client: peer", client_view._asdict())
    assert accepted == Ucred(child_pid, os.geteuid(), os.getegid())
    assert client_view == me()


def _report_peercred(sock: socket.socket) -> tuple[int, Ucred]:
    return os.getpid(), peer_credentials(sock)


@pytest.mark.ipc_property("creds.peercred-socketpair", ref="unix(7) SO_PEERCRED; socketpair(2)")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_peercred_socketpair(ipc_record, forked_peer, kind: str) -> None:
    """On a socketpair SO_PEERCRED names the process that called socketpair(), for both ends,
    even after one end moved to a forked child (unix(7) SO_PEERCRED: the credentials in
    effect at the time of the call to socketpair(2); GV GetPeerCred)."""
    peer = forked_peer(_report_peercred, kind=kind)
    child_pid, child_view = peer.join(WAIT)
    parent_view = peer_credentials(peer.sock)
    ipc_record.observe("seen by the child", child_view._asdict())
    ipc_record.observe("seen by the parent", parent_view._asdict())
    assert child_pid != os.getpid()
    assert child_view == parent_view == me()


@pytest.mark.ipc_property(
    "creds.peercred-listener", ref="unix(7) SO_PEERCRED; GV PeerCredAfterListen"
)
def test_peercred_listener(ipc_record, socks: SocketSet, unix_socket_path: str) -> None:
    """On a socket that is not connected SO_PEERCRED is unset (pid 0, uid and gid -1); after
    listen() it holds the caller's own credentials, which clients will see (unix(7);
    GV PeerCredBeforeListen, PeerCredAfterListen)."""
    sock = socks.bound(unix_socket_path)
    before = peer_credentials(sock)
    sock.listen(1)
    after = peer_credentials(sock)
    ipc_record.observe("before listen()", before._asdict())
    ipc_record.observe("after listen()", after._asdict())
    ipc_record.expect(
        f"before: {'unset' if before == Ucred(0, -1, -1) else tuple(before)}; "
        f"after: {'own' if after == me() else tuple(after)}",
        linux="before: unset; after: own",
    )


@pytest.mark.ipc_property("creds.peercred-dgram", ref="unix(7) SO_PEERCRED; connect(2)")
def test_peercred_dgram(ipc_record, socks: SocketSet, unix_socket_path: str) -> None:
    """(Linux) SO_PEERCRED is recorded by stream and seqpacket connect(), listen() and
    socketpair() only: a datagram socket "connected" with connect(), which only fixes its
    default destination, has no peer credentials (pid 0, uid and gid -1), nor has the bound
    socket it points at (unix(7) SO_PEERCRED; connect(2) on datagram sockets)."""
    receiver = socks.bound(unix_socket_path, "dgram")
    sender = socks.connected(unix_socket_path, "dgram")
    views = {"sender": peer_credentials(sender), "receiver": peer_credentials(receiver)}
    ipc_record.observe("SO_PEERCRED", {k: tuple(v) for k, v in views.items()})
    ipc_record.expect(
        "; ".join(
            f"{k}: {'unset' if v == Ucred(0, -1, -1) else tuple(v)}" for k, v in views.items()
        ),
        linux="sender: unset; receiver: unset",
    )


def _connect_and_exit(_sock: socket.socket, path: str) -> int:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)  # left open: closed by the exit
    return os.getpid()


@pytest.mark.ipc_property(
    "creds.peercred-survives-exit", ref="unix(7) SO_PEERCRED; GV PeerCredSurvivesPeerExit"
)
def test_peercred_survives_exit(
    ipc_record, socks: SocketSet, unix_socket_path: str, forked_peer
) -> None:
    """SO_PEERCRED keeps the credentials captured at connect(): after the peer exited and was
    reaped, the accepted socket still reports its pid (GV PeerCredSurvivesPeerExit)."""
    listener = socks.listening(unix_socket_path)
    listener.settimeout(WAIT)
    peer = forked_peer(_connect_and_exit, unix_socket_path)
    child_pid = peer.join(WAIT)
    conn = socks.accept(listener)
    seen = peer_credentials(conn)
    ipc_record.observe("peer after it exited", seen._asdict())
    assert seen.pid == child_pid


def _connect_then_switch(sock: socket.socket, path: str, uid: int, gid: int) -> int:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    drop_privileges(uid, gid)
    client.sendall(b"after setuid")
    sock.sendall(b"sent")
    sock.recv(1)
    client.close()
    return os.getpid()


@pytest.mark.ipc_property("creds.peercred-captured", ref="unix(7) SO_PEERCRED vs SCM_CREDENTIALS")
def test_peercred_captured(
    ipc_record, socks: SocketSet, unix_socket_path: str, forked_peer
) -> None:
    """SO_PEERCRED is a snapshot taken at connect(): a peer that changes its uid afterwards is
    still reported with the old one, while SCM_CREDENTIALS (SO_PASSCRED) carries the uid in
    effect when each message was sent (unix(7))."""
    if not IS_ROOT:
        pytest.skip("needs root: the peer must change its uid after connect()")
    uid, gid = other_user_ids()
    listener = socks.listening(unix_socket_path)
    listener.settimeout(WAIT)
    if passcred(listener) != "ok":  # inherited by accepted sockets
        ipc_record.expect("SO_PASSCRED unavailable", linux="captured at connect()")
        return
    peer = forked_peer(_connect_then_switch, unix_socket_path, uid, gid)
    peer.sock.settimeout(WAIT)
    assert peer.sock.recv(8) == b"sent"
    conn = socks.accept(listener)
    conn.settimeout(WAIT)
    snapshot = peer_credentials(conn)
    message = recv_ancillary(conn, 64, creds=1)
    peer.sock.sendall(b"x")
    peer.join(WAIT)
    ipc_record.observe("SO_PEERCRED uid", snapshot.uid)
    ipc_record.observe("SCM_CREDENTIALS uid", [c.uid for c in message.creds])
    ipc_record.expect(
        "captured at connect()"
        if (snapshot.uid, [c.uid for c in message.creds]) == (0, [uid])
        else f"SO_PEERCRED uid {snapshot.uid}, SCM_CREDENTIALS {message.creds}",
        linux="captured at connect()",
    )


def _peer_pidfd_pid(pidfd: int) -> int | None:
    with open(f"/proc/self/fdinfo/{pidfd}") as info:
        for line in info:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    return None


def _kernel_at_least(major: int, minor: int) -> bool:
    release = platform.release().split("-")[0].split(".")
    try:
        return (int(release[0]), int(release[1])) >= (major, minor)
    except (ValueError, IndexError):
        return False


@pytest.mark.ipc_property("creds.peerpidfd", ref="SO_PEERPIDFD (Linux 6.5); pidfd_open(2)")
def test_peerpidfd(ipc_record, fds: FdSet, forked_peer) -> None:
    """(Linux >= 6.5) SO_PEERPIDFD returns a pidfd for the peer process, which names the same
    pid as SO_PEERCRED (added in Linux 6.5 next to SO_PEERCRED; the /proc fdinfo "Pid:" line
    of a pidfd, pidfd_open(2); Linux selftest scm_pidfd)."""
    peer = forked_peer(_report_peercred)
    child_pid, _ = peer.join(WAIT)
    try:
        pidfd = peer.sock.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD)
    except OSError as exc:
        observed = errno_name(exc)
    else:
        fds.track(pidfd)
        pid = _peer_pidfd_pid(pidfd)
        observed = (
            "pidfd of SO_PEERCRED's pid"
            if pid == peer_credentials(peer.sock).pid
            else f"pidfd of {pid}"
        )
    ipc_record.observe("child pid", child_pid)
    ipc_record.expect(
        observed,
        linux="pidfd of SO_PEERCRED's pid" if _kernel_at_least(6, 5) else "ENOPROTOOPT",
    )


# -- SO_PASSCRED / SCM_CREDENTIALS (Linux) ---------------------------------------------------


def _send_plain(sock: socket.socket, kind: str, count: int) -> int:
    sock.recv(1)  # wait until the parent has turned SO_PASSCRED on
    for i in range(count):
        sock.send(b"%d" % i)
    return os.getpid()


@pytest.mark.ipc_property("creds.scm-credentials", ref="unix(7) SO_PASSCRED, SCM_CREDENTIALS")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_scm_credentials(ipc_record, forked_peer, kind: str) -> None:
    """(Linux) With SO_PASSCRED on the receiver every message arrives with an SCM_CREDENTIALS
    control message naming the sender's pid, uid and gid, although the sender attached none
    (unix(7) SO_PASSCRED: "causes receipt of the credentials of the sending process in an
    SCM_CREDENTIALS ancillary message in each subsequently received message")."""
    peer = forked_peer(_send_plain, kind, 3, kind=kind)
    peer.sock.settimeout(WAIT)
    enabled = passcred(peer.sock)
    peer.sock.send(b"g")
    if enabled != "ok":
        peer.join(WAIT)
        ipc_record.expect(f"SO_PASSCRED: {enabled}", linux="delivered")
        return
    child = peer.join(WAIT)
    creds, data = [], b""
    while len(data) < 3:
        got = recv_ancillary(peer.sock, 64, creds=1)
        assert got.data, "EOF before the three messages arrived"
        data += got.data
        creds.append(got.creds)
    ipc_record.observe("credentials per receive", [[tuple(c) for c in cs] for cs in creds])
    expected = [Ucred(child, os.geteuid(), os.getegid())]
    ipc_record.expect(
        "delivered" if all(cs == expected for cs in creds) else repr(creds), linux="delivered"
    )


def _send_with_creds(sock: socket.socket, uid: int, gid: int, claim: str) -> dict[str, object]:
    sock.recv(1)
    _become(uid, gid)
    pid = {"own": os.getpid(), "parent": os.getppid(), "missing": 0x3FFFFFFF}[claim]
    result = outcome(sock.sendmsg, [b"c"], [credentials_cmsg(pid, os.getuid(), os.getgid())])
    return {"pid": os.getpid(), "claimed": pid, "uid": os.getuid(), "result": result}


def _claim(forked_peer, claim: str, uid: int, gid: int) -> tuple[dict[str, object], list[Ucred]]:
    peer = forked_peer(_send_with_creds, uid, gid, claim)
    peer.sock.settimeout(WAIT)
    enabled = passcred(peer.sock)
    peer.sock.send(b"g")
    sent = peer.join(WAIT)
    creds: list[Ucred] = []
    if enabled == "ok" and sent["result"] == "ok":
        creds = recv_ancillary(peer.sock, 16, creds=1).creds
    return sent, creds


@pytest.mark.ipc_property("creds.send-own", ref="unix(7) SCM_CREDENTIALS")
def test_send_own(ipc_record, forked_peer) -> None:
    """(Linux) Any process may attach SCM_CREDENTIALS with its own pid, uid and gid, and the
    receiver gets exactly them (unix(7) SCM_CREDENTIALS: "The sender must specify its own
    process ID", user ID and group ID unless privileged); here the
    sender runs unprivileged (as nobody when the suite runs as root)."""
    uid, gid = _nobody()
    sent, creds = _claim(forked_peer, "own", uid, gid)
    ipc_record.observe("sender", sent)
    ipc_record.observe("received", [tuple(c) for c in creds])
    expected = [Ucred(int(sent["pid"]), uid, gid)]  # type: ignore[call-overload]
    ipc_record.expect(
        "delivered as sent" if creds == expected else f"{sent['result']}: {creds}",
        linux="delivered as sent",
    )


@pytest.mark.ipc_property("creds.forged-pid", ref="unix(7) SCM_CREDENTIALS: EPERM")
def test_forged_pid(ipc_record, forked_peer) -> None:
    """(Linux) An unprivileged sender that claims another process's pid in SCM_CREDENTIALS
    fails with EPERM (unix(7) SCM_CREDENTIALS: the sender must specify its own process ID
    "unless it has the capability CAP_SYS_ADMIN"; EPERM "The sender passed invalid credentials
    in the struct ucred"); the sender runs as nobody when the suite runs as root."""
    uid, gid = _nobody()
    sent, _creds = _claim(forked_peer, "parent", uid, gid)
    ipc_record.observe("sender", sent)
    ipc_record.expect(str(sent["result"]), linux="EPERM")


def _privileged_claim(ipc_record, forked_peer, claim: str) -> str:
    if not IS_ROOT:
        pytest.skip("needs root: CAP_SYS_ADMIN lets a sender claim another pid")
    sent, creds = _claim(forked_peer, claim, 0, 0)
    ipc_record.observe("sender", sent)
    ipc_record.observe("received", [tuple(c) for c in creds])
    observed = str(sent["result"])
    if observed == "ok":
        observed = "delivered" if [c.pid for c in creds] == [sent["claimed"]] else repr(creds)
    return observed


@pytest.mark.ipc_property(
    "creds.forged-pid-privileged", ref="unix(7) SCM_CREDENTIALS; capabilities(7)"
)
def test_forged_pid_privileged(ipc_record, forked_peer) -> None:
    """(Linux, root) With CAP_SYS_ADMIN a sender may claim another existing process's pid in
    SCM_CREDENTIALS, and the receiver sees that pid (unix(7) SCM_CREDENTIALS: "unless it has
    the capability CAP_SYS_ADMIN"; GV CredPassDifferentPID)."""
    ipc_record.expect(_privileged_claim(ipc_record, forked_peer, "parent"), linux="delivered")


@pytest.mark.ipc_property("creds.nonexistent-pid", ref="unix(7) SCM_CREDENTIALS; GV CredPass")
def test_nonexistent_pid(ipc_record, forked_peer) -> None:
    """(Linux, root) Claiming a pid that no process has fails with ESRCH even with
    CAP_SYS_ADMIN: the kernel looks the pid up (GV CredPassNonexistentPID)."""
    ipc_record.expect(_privileged_claim(ipc_record, forked_peer, "missing"), linux="ESRCH")


@pytest.mark.ipc_property("creds.short-cmsg", ref="unix(7) SCM_CREDENTIALS; GV NoDataCredPass")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_short_cmsg(ipc_record, socks: SocketSet, kind: str) -> None:
    """(Linux) An SCM_CREDENTIALS control message shorter than struct ucred is rejected with
    EINVAL and nothing is sent (unix(7); GV NoDataCredPass)."""
    a, b = pair(socks, kind)
    result = outcome(a.sendmsg, [b"c"], [(socket.SOL_SOCKET, credentials_cmsg(0, 0, 0)[1], b"")])
    b.setblocking(False)
    assert outcome(b.recv, 8) == "EAGAIN", "the rejected message was queued"
    ipc_record.expect(result, linux="EINVAL")


@pytest.mark.ipc_property("creds.ctrunc", ref="unix(7); recvmsg(2) MSG_CTRUNC")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_ctrunc(ipc_record, socks: SocketSet, kind: str) -> None:
    """(Linux) A control buffer too small for struct ucred sets MSG_CTRUNC and yields no
    credentials; the data still arrives (recvmsg(2); GV CredPassTruncatedMsgCtrunc)."""
    a, b = pair(socks, kind)
    enabled = passcred(b)
    a.send(b"data")
    got = recv_ancillary(b, 16, ancbufsize=socket.CMSG_LEN(4))
    ipc_record.observe("data", got.data.decode())
    assert got.data == b"data"
    ipc_record.expect(
        f"SO_PASSCRED {enabled}; MSG_CTRUNC {'set' if got.ctrunc else 'clear'}; "
        f"{len(got.creds)} credentials",
        linux="SO_PASSCRED ok; MSG_CTRUNC set; 0 credentials",
    )


@pytest.mark.ipc_property("creds.passcred-inherited", ref="unix(7) SO_PASSCRED; GV InheritPasscred")
@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_passcred_inherited(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """(Linux) A socket accepted from a listener with SO_PASSCRED has SO_PASSCRED too, so its
    messages carry credentials without another setsockopt() (GV InheritPasscred)."""
    listener = socks.listening(unix_socket_path, kind)
    enabled = passcred(listener)
    client = socks.connected(unix_socket_path, kind)
    conn = socks.accept(listener)
    client.send(b"x")
    conn.settimeout(WAIT)
    got = recv_ancillary(conn, 8, creds=1)
    flag = outcome(conn.getsockopt, socket.SOL_SOCKET, SO_PASSCRED)
    if flag == "ok":
        flag = str(conn.getsockopt(socket.SOL_SOCKET, SO_PASSCRED))
    ipc_record.expect(
        f"listener {enabled}; accepted SO_PASSCRED {flag}; credentials {got.creds == [me()]}",
        linux="listener ok; accepted SO_PASSCRED 1; credentials True",
    )


@pytest.mark.ipc_property("creds.passcred-autobind", ref="unix(7) Autobind feature, SO_PASSCRED")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_passcred_autobind(ipc_record, socks: SocketSet, unix_socket_path: str, kind: str) -> None:
    """(Linux) An unbound socket with SO_PASSCRED is autobound when it connects or sends: it
    gets an abstract name, which the peer sees (unix(7): "If a bind(2) call specifies addrlen
    as sizeof(sa_family_t), or the SO_PASSCRED socket option was specified for a socket that
    was not explicitly bound to an address, then the socket is autobound")."""
    server = socks.bound(unix_socket_path, kind)
    sock = socks.new(kind)
    enabled = passcred(sock)
    before = sock.getsockname()
    if kind == "dgram":
        sock.sendto(b"x", unix_socket_path)
        server.settimeout(WAIT)
        _data, seen = server.recvfrom(8)
    else:
        server.listen(1)
        sock.connect(unix_socket_path)
        seen = socks.accept(server).getpeername()
    after = sock.getsockname()
    ipc_record.observe("name before / after", [repr(before), repr(after)])
    autobound = isinstance(after, bytes) and after[:1] == b"\0" and seen == after
    ipc_record.expect(
        f"SO_PASSCRED {enabled}; " + ("autobound" if before == "" and autobound else "unbound"),
        linux="SO_PASSCRED ok; autobound",
    )


def _send_on(_sock: socket.socket, fd: int) -> int:
    os.write(fd, b"B")
    return os.getpid()


@pytest.mark.ipc_property(
    "creds.not-coalesced", ref="unix(7) SCM_CREDENTIALS; GV CredsNotCoalesced"
)
def test_not_coalesced(ipc_record, socks: SocketSet, forked_peer) -> None:
    """(Linux) With SO_PASSCRED, a stream read never merges data sent by processes with
    different credentials: bytes written by a parent and a child on one connection come in
    separate reads, each with its writer's pid (GV CredsNotCoalesced)."""
    a, b = pair(socks, "stream")
    enabled = passcred(b)
    a.send(b"A")
    child = forked_peer(_send_on, a.fileno(), pass_fds=(a.fileno(),)).join(WAIT)
    a.send(b"C")
    reads = []
    while sum(len(data) for data, _ in reads) < 3:
        got = recv_ancillary(b, 64, creds=1)
        assert got.data, "EOF before the three bytes arrived"
        who = {os.getpid(): "parent", child: "child"}
        reads.append((got.data.decode(), "/".join(who.get(c.pid, str(c.pid)) for c in got.creds)))
    ipc_record.expect(
        f"SO_PASSCRED {enabled}; " + " | ".join(f"{d} from {w}" for d, w in reads),
        linux="SO_PASSCRED ok; A from parent | B from child | C from parent",
    )


@pytest.mark.ipc_property("creds.with-rights", ref="unix(7) SCM_RIGHTS and SCM_CREDENTIALS")
@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_with_rights(ipc_record, fds: FdSet, socks: SocketSet, kind: str) -> None:
    """(Linux) SCM_RIGHTS and SCM_CREDENTIALS travel together in one message: the receiver
    gets the descriptor and the sender's credentials from a single recvmsg() (unix(7))."""
    a, b = pair(socks, kind)
    enabled = passcred(b)
    r, _w = fds.pipe()
    own = me()
    controls = [rights_cmsg([r])]
    if enabled == "ok":
        controls.append(credentials_cmsg(*own))
    a.sendmsg([b"both"], controls)
    got = fds.receive(b, 16, maxfds=1, creds=1)
    assert len(got.fds) == 1
    assert same_open_file(got.fds[0], r)
    ipc_record.expect(
        f"{len(got.fds)} descriptor, credentials {'own' if got.creds == [own] else got.creds}",
        linux="1 descriptor, credentials own",
    )


# -- another user ------------------------------------------------------------------------------


def _use_as_other_user(sock: socket.socket, path: str, uid: int, gid: int) -> dict[str, object]:
    drop_privileges(uid, gid)
    own_open = "opened"
    try:
        os.close(os.open(path, os.O_WRONLY))
    except OSError as exc:
        own_open = errno_name(exc)
    _data, ancdata, _flags, _addr = sock.recvmsg(16, socket.CMSG_SPACE(4))
    (fd,) = [int.from_bytes(d[:4], sys.byteorder) for *_, d in ancdata]
    written = os.write(fd, b"written by uid %d" % os.getuid())
    os.close(fd)
    return {"uid": os.getuid(), "open() itself": own_open, "wrote": written}


@pytest.mark.ipc_property("creds.other-user", ref="unix(7) SCM_RIGHTS; credentials(7)")
def test_other_user(ipc_record, fds: FdSet, ipc_tmp_path: Path, forked_peer) -> None:
    """A worker running as another user receives a descriptor and uses it although it could
    not open the file itself: access was checked when the sender opened it, and the
    descriptor carries that right (unix(7) SCM_RIGHTS; credentials(7))."""
    if not IS_ROOT:
        pytest.skip("needs root: the worker must run as another uid")
    uid, gid = other_user_ids()
    path = ipc_tmp_path / "root-only"
    fd = fds.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        peer = forked_peer(_use_as_other_user, str(path), uid, gid)
        peer.sock.sendmsg([b"F"], [rights_cmsg([fd])])
        result = peer.join(WAIT)
        content = path.read_bytes()
    finally:
        path.unlink()
    ipc_record.observe("worker", result)
    assert result["uid"] == uid
    assert result["open() itself"] == "EACCES", "the worker could open the file without help"
    assert content == b"written by uid %d" % uid
