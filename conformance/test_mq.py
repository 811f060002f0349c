"""Message queues: POSIX (mq_overview(7), mq_open(3), mq_send(3), mq_receive(3), mq_notify(3))
and System V (msgget(2), msgop(2), msgctl(2)).

A platform without POSIX message queues (macOS has no mq_open; a Linux kernel without
CONFIG_POSIX_MQUEUE gives ENOSYS) is reported through ipc_record.expect, not skipped.
References: the open POSIX test suite in LTP (conformance/interfaces/mq_*), LTP
testcases/kernel/syscalls/msgget, msgsnd, msgrcv, mq_notify; gVisor mq.cc and msgqueue.cc.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from pytest_unixipc import forked_peer, wait_readable
from pytest_unixipc import posix_ipc as px
from pytest_unixipc.classic import (
    errno_name,
    mqueue_unavailable,
    outcome,
    posix_mqueue,
    proc_sys_int,
    sysv_msgqueue,
    sysv_unavailable,
    unique_name,
    wait_sleeping,
)

TIMEOUT = 5.0


def _no_posix_mq(ipc_record) -> bool:
    """Report a platform without POSIX message queues; True if the test should stop."""
    why = mqueue_unavailable()
    if why is None:
        return False
    ipc_record.expect(
        "no POSIX message queues",
        portable="POSIX message queues",
        darwin="no POSIX message queues",
        note=why,
    )
    return True


def _no_sysv(ipc_record) -> bool:
    why = sysv_unavailable()
    if why is None:
        return False
    ipc_record.expect("no System V IPC", portable="System V IPC", note=why)
    return True


def _run_unrelated(code: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], timeout=10, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"the unrelated process failed:\n{proc.stderr}"
    return proc.stdout.strip()


# --------------------------------------------------------------------------- POSIX queues
@pytest.mark.ipc_property("mq.posix-priority", ref="mq_overview(7), mq_send(3), mq_receive(3)")
def test_posix_priority(ipc_record) -> None:
    """A POSIX message queue returns the oldest message of the highest priority first: higher
    priorities jump ahead, equal priorities keep their order (mq_receive(3): "removes the
    oldest message with the highest priority"; mq_send(3): "Messages are placed on the queue in
    decreasing order of priority, with newer messages of the same priority being placed after
    older messages"; open POSIX mq_send/3, mq_receive/1)."""
    if _no_posix_mq(ipc_record):
        return
    sent = [(b"low", 1), (b"high", 30), (b"mid", 7), (b"low2", 1), (b"zero", 0)]
    with posix_mqueue(maxmsg=8, msgsize=64) as mq:
        for data, prio in sent:
            mq.send(data, prio)
        got = [mq.receive(timeout=TIMEOUT) for _ in sent]
    ipc_record.observe("received", [f"{d.decode()}:{p}" for d, p in got])
    assert got == [(b"high", 30), (b"mid", 7), (b"low", 1), (b"low2", 1), (b"zero", 0)]


@pytest.mark.ipc_property("mq.posix-attr-defaults", ref="mq_open(3), mq_overview(7) /proc")
def test_posix_attr_defaults(ipc_record) -> None:
    """With attr NULL a queue gets the system defaults (Linux: /proc/sys/fs/mqueue/msg_default
    and msgsize_default); mq_maxmsg or mq_msgsize <= 0 fails with EINVAL (mq_open(3): "EINVAL
    O_CREAT was specified in oflag, and attr was not NULL, but attr->mq_maxmsg or
    attr->mq_msqsize was invalid"; mq_overview(7) /proc interfaces; open POSIX mq_open/12)."""
    if _no_posix_mq(ipc_record):
        return
    with posix_mqueue() as mq:
        attr = mq.getattr()
    flags, name = os.O_CREAT | os.O_EXCL | os.O_RDWR, unique_name()
    bad = outcome(lambda: px.MessageQueue(name, flags, maxmsg=-1, msgsize=64).close())
    with contextlib.suppress(FileNotFoundError):
        px.mq_unlink(name)  # only if it was wrongly created
    ipc_record.observe("default maxmsg, msgsize", [attr.maxmsg, attr.msgsize])
    for name in ("msg_max", "msgsize_max"):
        value = proc_sys_int(f"fs/mqueue/{name}")
        if value is not None:
            ipc_record.limit(f"mq {name}", value)
    defaults = (proc_sys_int("fs/mqueue/msg_default"), proc_sys_int("fs/mqueue/msgsize_default"))
    assert bad == "EINVAL", f"mq_maxmsg -1 gave {bad}"
    ipc_record.expect(
        "from /proc/sys/fs/mqueue" if defaults == (attr.maxmsg, attr.msgsize) else "other",
        linux="from /proc/sys/fs/mqueue",
    )


@pytest.mark.ipc_property("mq.posix-excl", ref="mq_open(3)")
def test_posix_excl(ipc_record) -> None:
    """mq_open(O_CREAT|O_EXCL) of an existing name fails with EEXIST; a missing name without
    O_CREAT fails with ENOENT (mq_open(3) ERRORS; open POSIX mq_open/23, /29)."""
    if _no_posix_mq(ipc_record):
        return
    with posix_mqueue() as mq:
        excl = outcome(px.MessageQueue, mq.name, os.O_CREAT | os.O_EXCL | os.O_RDWR)
    missing = outcome(px.MessageQueue, unique_name(), os.O_RDWR)
    ipc_record.observe("EXCL on existing, missing", [excl, missing])
    assert excl == "EEXIST"
    assert missing == "ENOENT"


@contextlib.contextmanager
def _opened(name: str, flags: int) -> Iterator[px.MessageQueue]:
    mq = px.MessageQueue(name, flags)
    try:
        yield mq
    finally:
        mq.close()


@pytest.mark.ipc_property("mq.posix-access-mode", ref="mq_send(3), mq_receive(3)")
def test_posix_access_mode(ipc_record) -> None:
    """The open mode is enforced: mq_send on a descriptor opened O_RDONLY and mq_receive on
    one opened O_WRONLY fail with EBADF (mq_send(3): "EBADF The descriptor specified in mqdes
    was invalid or not opened for writing"; mq_receive(3) likewise; open POSIX mq_send/11)."""
    if _no_posix_mq(ipc_record):
        return
    with (
        posix_mqueue(maxmsg=4, msgsize=32) as mq,
        _opened(mq.name, os.O_RDONLY) as ro,
        _opened(mq.name, os.O_WRONLY) as wo,
    ):
        send = outcome(ro.send, b"x")
        mq.send(b"queued")
        receive = outcome(wo.receive, 32)
    ipc_record.observe("send on O_RDONLY, receive on O_WRONLY", [send, receive])
    assert send == "EBADF"
    assert receive == "EBADF"


@pytest.mark.ipc_property("mq.posix-emsgsize", ref="mq_send(3), mq_receive(3)")
def test_posix_emsgsize(ipc_record) -> None:
    """mq_send of more than mq_msgsize bytes fails with EMSGSIZE, and so does mq_receive with
    a buffer smaller than mq_msgsize, even for a short message (mq_send(3): "EMSGSIZE msg_len
    was greater than the mq_msgsize attribute"; mq_receive(3): "EMSGSIZE msg_len was less than
    the mq_msgsize attribute"; open POSIX mq_send/13, mq_receive/12)."""
    if _no_posix_mq(ipc_record):
        return
    with posix_mqueue(maxmsg=4, msgsize=64) as mq:
        too_long = outcome(mq.send, b"x" * 65)
        mq.send(b"short")
        small_buffer = outcome(mq.receive, 63)
        got = mq.receive(64)
    ipc_record.observe("send 65 > 64, receive into 63", [too_long, small_buffer])
    assert too_long == "EMSGSIZE"
    assert small_buffer == "EMSGSIZE"
    assert got == (b"short", 0), "the refused receive consumed the message"


@pytest.mark.ipc_property("mq.posix-prio-max", ref="mq_send(3), sysconf(3) MQ_PRIO_MAX")
def test_posix_prio_max(ipc_record) -> None:
    """Priorities run from 0 to MQ_PRIO_MAX-1; msg_prio >= MQ_PRIO_MAX fails with EINVAL
    (POSIX mq_send(): "[EINVAL] The value of msg_prio was outside the valid range"; mq_send(3):
    msg_prio must be below MQ_PRIO_MAX; Linux MQ_PRIO_MAX is 32768)."""
    if _no_posix_mq(ipc_record):
        return
    limit = os.sysconf("SC_MQ_PRIO_MAX")
    ipc_record.limit("MQ_PRIO_MAX", limit)
    with posix_mqueue(maxmsg=4, msgsize=16) as mq:
        top = outcome(mq.send, b"top", limit - 1)
        over = outcome(mq.send, b"over", limit)
        got = mq.receive(16)
    ipc_record.observe("prio MQ_PRIO_MAX-1, MQ_PRIO_MAX", [top, over])
    assert top == "ok"
    assert over == "EINVAL"
    assert got == (b"top", limit - 1)


@pytest.mark.ipc_property("mq.posix-full", ref="mq_send(3), mq_timedsend(3)")
def test_posix_full(ipc_record) -> None:
    """A full queue refuses: with O_NONBLOCK mq_send fails with EAGAIN; blocking,
    mq_timedsend fails with ETIMEDOUT at its deadline (mq_send(3): "EAGAIN The queue was full,
    and the O_NONBLOCK flag was set"; "ETIMEDOUT The call timed out before a message could be
    transferred"; open POSIX mq_send/5, mq_timedsend/20)."""
    if _no_posix_mq(ipc_record):
        return
    with posix_mqueue(maxmsg=3, msgsize=16) as mq:
        for i in range(3):
            mq.send(b"%d" % i)
        timed = outcome(mq.send, b"late", 0, 0.02)
        mq.setattr(os.O_NONBLOCK)
        nonblocking = outcome(mq.send, b"late")
        count = mq.getattr().curmsgs
    ipc_record.observe("timed, non-blocking", [timed, nonblocking])
    assert timed == "ETIMEDOUT"
    assert nonblocking == "EAGAIN"
    assert count == 3


@pytest.mark.ipc_property("mq.posix-empty", ref="mq_receive(3), mq_timedreceive(3)")
def test_posix_empty(ipc_record) -> None:
    """An empty queue: O_NONBLOCK mq_receive fails with EAGAIN; mq_timedreceive fails with
    ETIMEDOUT at its deadline (mq_receive(3): "EAGAIN The queue was empty, and the O_NONBLOCK
    flag was set"; "ETIMEDOUT The call timed out before a message could be transferred"; open
    POSIX mq_receive/5, mq_timedreceive/10)."""
    if _no_posix_mq(ipc_record):
        return
    with posix_mqueue(maxmsg=2, msgsize=16, flags=os.O_RDWR | os.O_NONBLOCK) as mq:
        nonblocking = outcome(mq.receive, 16)
        mq.setattr(0)
        timed = outcome(mq.receive, 16, 0.02)
    ipc_record.observe("non-blocking, timed", [nonblocking, timed])
    assert nonblocking == "EAGAIN"
    assert timed == "ETIMEDOUT"


@pytest.mark.ipc_property("mq.posix-unlink", ref="mq_unlink(3)")
def test_posix_unlink(ipc_record) -> None:
    """mq_unlink() removes the name at once (a new mq_open fails with ENOENT) while open
    descriptors keep working until closed (mq_unlink(3): "The message queue name is removed
    immediately. The queue itself is destroyed once any other processes that have the queue
    open close their descriptors"; open POSIX mq_unlink/1, /2)."""
    if _no_posix_mq(ipc_record):
        return
    with posix_mqueue(maxmsg=2, msgsize=16) as mq:
        px.mq_unlink(mq.name)
        reopen = outcome(px.MessageQueue, mq.name, os.O_RDWR)
        mq.send(b"after unlink", 3)
        got = mq.receive(16)
    ipc_record.observe("mq_open after unlink", reopen)
    assert reopen == "ENOENT"
    assert got == (b"after unlink", 3)


def _child_notified(sock: socket.socket, name: str) -> tuple[bool, str]:
    """Registers for notification (single-threaded, so a blocked signal stays pending)."""
    signo = signal.SIGUSR2
    signal.pthread_sigmask(signal.SIG_BLOCK, {signo})
    with _opened(name, os.O_RDONLY) as mq:
        mq.notify(signo)
        sock.sendall(b"n")
        info = signal.sigtimedwait({signo}, TIMEOUT)
        if info is None:
            raise AssertionError(f"no {signo.name} within {TIMEOUT} s of the message arriving")
        again = outcome(mq.notify, signo)
        mq.notify(None)
    return info.si_pid == os.getppid(), again


@pytest.mark.ipc_property("mq.posix-notify", ref="mq_notify(3)")
def test_posix_notify(ipc_record) -> None:
    """mq_notify() registers one process per queue: a second process's registration fails
    with EBUSY; a message arriving in the empty queue sends the registered process its signal
    (si_pid is the sender), and the registration is then removed, so it can be made again
    (mq_notify(3): "Only one process can be registered to receive notification from a message
    queue"; "EBUSY Another process has already registered to receive notification for this
    message queue"; once a notification is delivered the registration is removed and another
    process may register; open POSIX mq_notify/1-5, LTP mq_notify01). The
    registered process is a forked child: single-threaded, it can keep the signal blocked and
    collect it with sigtimedwait()."""
    if _no_posix_mq(ipc_record):
        return
    with (
        posix_mqueue(maxmsg=2, msgsize=16) as mq,
        forked_peer(_child_notified, mq.name) as peer,
    ):
        wait_readable(peer.sock.fileno(), TIMEOUT, "the child registering with mq_notify()")
        peer.sock.recv(1)
        busy = outcome(mq.notify, signal.SIGUSR2)
        mq.send(b"wake", 1)
        from_sender, again = peer.join(timeout=TIMEOUT)
    ipc_record.observe("second registration, re-registration after firing", [busy, again])
    assert busy == "EBUSY"
    assert from_sender, "the notification's si_pid is not the sending process"
    assert again == "ok", f"registering again after the notification gave {again}"


@pytest.mark.ipc_property("mq.posix-setattr", ref="mq_setattr(3), mq_getattr(3)")
def test_posix_setattr(ipc_record) -> None:
    """mq_setattr() changes only O_NONBLOCK: mq_maxmsg and mq_msgsize given to it are ignored;
    mq_getattr() reports mq_curmsgs (mq_getattr(3): "The only attribute that can be modified is
    the setting of the O_NONBLOCK flag in mq_flags. The other fields in newattr are ignored";
    open POSIX mq_setattr/1, mq_getattr/4)."""
    if _no_posix_mq(ipc_record):
        return
    with posix_mqueue(maxmsg=4, msgsize=32) as mq:
        mq.send(b"one")
        mq.send(b"two")
        old = mq.setattr(os.O_NONBLOCK)
        new = mq.getattr()
        mq.setattr(0)
    ipc_record.observe("after setattr", new.__dict__)
    assert old.flags & os.O_NONBLOCK == 0
    assert new.flags & os.O_NONBLOCK
    assert (new.maxmsg, new.msgsize, new.curmsgs) == (4, 32, 2)


@pytest.mark.ipc_property("mq.posix-pollable", ref="mq_overview(7) Linux: polling descriptors")
def test_posix_pollable(ipc_record) -> None:
    """(Linux) A message queue descriptor is a file descriptor that poll() understands:
    POLLIN once a message is queued (mq_overview(7): "On Linux, a message queue descriptor is
    actually a file descriptor. (POSIX does not require such an implementation.) This means
    that a message queue descriptor can be monitored using select(2), poll(2), or
    epoll(7)")."""
    if _no_posix_mq(ipc_record):
        return
    with posix_mqueue(maxmsg=2, msgsize=16) as mq:
        try:
            fd = mq.fileno()
        except px.Unsupported:
            ipc_record.expect("not a file descriptor", linux="POLLIN when a message is queued")
            return
        empty = select.select([fd], [], [], 0)[0]
        mq.send(b"p")
        wait_readable(fd, TIMEOUT, "POLLIN on the queue descriptor")
        mq.receive(16)
    ipc_record.expect(
        "POLLIN when a message is queued" if not empty else "readable while empty",
        linux="POLLIN when a message is queued",
    )


_MQ_SENDER = """
import os, sys
from pytest_unixipc.posix_ipc import MessageQueue
mq = MessageQueue(sys.argv[1], os.O_WRONLY)
mq.send(b"from pid %d" % os.getpid(), 9)
mq.close()
"""


@pytest.mark.ipc_property("mq.posix-unrelated", ref="mq_overview(7)")
def test_posix_unrelated(ipc_record) -> None:
    """A separately started process opens the queue by name and its message arrives here with
    its priority (mq_overview(7): "Each message queue is identified by a name of the form
    /somename ... Two processes can operate on the same queue by passing the same name to
    mq_open(3)")."""
    if _no_posix_mq(ipc_record):
        return
    with posix_mqueue(maxmsg=2, msgsize=32) as mq:
        _run_unrelated(_MQ_SENDER, mq.name)
        data, prio = mq.receive(32, TIMEOUT)
    ipc_record.observe("received", data.decode())
    assert data.startswith(b"from pid ")
    assert int(data.split()[-1]) != os.getpid()
    assert prio == 9


def _child_blocking_receive(sock: socket.socket, name: str) -> bytes:
    with _opened(name, os.O_RDONLY) as mq:
        sock.sendall(b"r")
        data, _ = mq.receive(32, TIMEOUT)
    return data


@pytest.mark.ipc_property("mq.posix-receiver-wakes", ref="mq_receive(3)")
def test_posix_receiver_wakes(ipc_record) -> None:
    """A process blocked in mq_receive on an empty queue is woken by another process's
    mq_send and gets the message (mq_receive(3): "If the queue is empty, then, by default,
    mq_receive() blocks until a message becomes available")."""
    if _no_posix_mq(ipc_record):
        return
    with (
        posix_mqueue(maxmsg=2, msgsize=32) as mq,
        forked_peer(_child_blocking_receive, mq.name) as peer,
    ):
        wait_readable(peer.sock.fileno(), TIMEOUT, "the child opening the queue")
        peer.sock.recv(1)
        asleep = wait_sleeping(peer.pid, TIMEOUT, "the child blocking in mq_receive()")
        mq.send(b"wake up")
        got = peer.join(timeout=TIMEOUT)
    ipc_record.observe("child blocked first", asleep)
    assert got == b"wake up"


@pytest.mark.ipc_property("mq.posix-name-rules", ref="mq_overview(7), mq_open(3)")
@pytest.mark.parametrize("case", ["no-leading-slash", "inner-slash"])
def test_posix_name_rules(ipc_record, case: str) -> None:
    """A queue name is "/" followed by characters none of which is a slash (mq_overview(7):
    "a null-terminated string of up to NAME_MAX (i.e., 255) characters consisting of an
    initial slash, followed by one or more characters, none of which are slashes"). glibc
    refuses a missing slash with EINVAL; Linux refuses an inner slash with EACCES (mq_open(3):
    "EACCES The name contained more than one slash"); gVisor mq.cc OpenInvalidArgs."""
    if _no_posix_mq(ipc_record):
        return
    name = {"no-leading-slash": unique_name()[1:], "inner-slash": unique_name() + "/x"}[case]
    try:
        mq = px.MessageQueue(name, os.O_CREAT | os.O_EXCL | os.O_RDWR)
    except OSError as exc:
        result = errno_name(exc)
    else:
        mq.close()
        px.mq_unlink(name)
        result = "ok"
    linux = {"no-leading-slash": "EINVAL", "inner-slash": "EACCES"}[case]
    ipc_record.expect(result, portable=linux, linux=linux)


@pytest.mark.ipc_property("mq.posix-zero-length", ref="mq_send(3)")
def test_posix_zero_length(ipc_record) -> None:
    """A zero-length message is a message: it is queued, counted in mq_curmsgs and received as
    an empty message with its priority (mq_send(3): msg_len "specifies the length of the
    message pointed to by msg_ptr; this length must be less than or equal to the queue's
    mq_msgsize attribute. Zero-length messages are allowed")."""
    if _no_posix_mq(ipc_record):
        return
    with posix_mqueue(maxmsg=2, msgsize=16) as mq:
        mq.send(b"", 4)
        queued = mq.getattr().curmsgs
        got = mq.receive(16, TIMEOUT)
    ipc_record.observe("queued, received", [queued, repr(got)])
    assert queued == 1
    assert got == (b"", 4)


# --------------------------------------------------------------------------- System V queues
@pytest.mark.ipc_property("mq.sysv-typed", ref="msgrcv(2)")
def test_sysv_typed(ipc_record) -> None:
    """msgrcv() with msgtyp > 0 takes the first message of exactly that type, skipping others;
    with IPC_NOWAIT and no message of that type it fails with ENOMSG (msgrcv(2): "If msgtyp
    is greater than 0, then the first message in the queue of type msgtyp is read"; "ENOMSG
    IPC_NOWAIT was specified in msgflg and no message of the requested type existed"; LTP
    msgrcv03)."""
    if _no_sysv(ipc_record):
        return
    with sysv_msgqueue() as q:
        for mtype, data in [(1, b"a1"), (2, b"b1"), (1, b"a2"), (2, b"b2")]:
            q.send(mtype, data)
        got = [q.receive(64, 2, px.IPC_NOWAIT), q.receive(64, 2, px.IPC_NOWAIT)]
        none_left = outcome(q.receive, 64, 2, px.IPC_NOWAIT)
        rest = [q.receive(64, 0, px.IPC_NOWAIT), q.receive(64, 0, px.IPC_NOWAIT)]
    ipc_record.observe("type 2, then type 0", [repr(got), repr(rest)])
    assert got == [(2, b"b1"), (2, b"b2")]
    assert none_left == "ENOMSG"
    assert rest == [(1, b"a1"), (1, b"a2")], "type 0 did not take the oldest first"


@pytest.mark.ipc_property("mq.sysv-negative-type", ref="msgrcv(2)")
def test_sysv_negative_type(ipc_record) -> None:
    """msgrcv() with msgtyp < 0 takes the first message of the lowest type that is at most
    |msgtyp| (msgrcv(2): "If msgtyp is less than 0, then the first message in the queue with
    the lowest type less than or equal to the absolute value of msgtyp will be read"; gVisor
    MsgRcvTypeNegative)."""
    if _no_sysv(ipc_record):
        return
    with sysv_msgqueue() as q:
        for mtype, data in [(5, b"e"), (3, b"c1"), (9, b"i"), (3, b"c2"), (4, b"d")]:
            q.send(mtype, data)
        got = [q.receive(64, -4, px.IPC_NOWAIT) for _ in range(3)]
        none_left = outcome(q.receive, 64, -4, px.IPC_NOWAIT)
    ipc_record.observe("msgtyp -4", repr(got))
    assert got == [(3, b"c1"), (3, b"c2"), (4, b"d")]
    assert none_left == "ENOMSG"


@pytest.mark.ipc_property("mq.sysv-except", ref="msgrcv(2) MSG_EXCEPT")
def test_sysv_except(ipc_record) -> None:
    """(Linux) MSG_EXCEPT with msgtyp > 0 takes the first message whose type differs from
    msgtyp (msgrcv(2): "MSG_EXCEPT Used with msgtyp greater than 0 to read the first message
    in the queue with message type that differs from msgtyp"; Linux-specific)."""
    if _no_sysv(ipc_record):
        return
    with sysv_msgqueue() as q:
        q.send(1, b"one")
        q.send(1, b"one again")
        q.send(2, b"two")
        result = outcome(q.receive, 64, 1, px.MSG_EXCEPT | px.IPC_NOWAIT)
        left = q.receive(64, 0, px.IPC_NOWAIT)
    observed = "first other type" if result == "ok" and left == (1, b"one") else result
    ipc_record.expect(observed, linux="first other type", note="MSG_EXCEPT is Linux-only")


@pytest.mark.ipc_property("mq.sysv-e2big", ref="msgrcv(2) MSG_NOERROR")
def test_sysv_e2big(ipc_record) -> None:
    """A message longer than the receive size fails with E2BIG and stays queued, unless
    MSG_NOERROR truncates it (msgrcv(2): "If the message text has length greater than msgsz,
    then the behavior depends on whether MSG_NOERROR is specified in msgflg ... if MSG_NOERROR
    is not specified, then the message isn't removed from the queue and the system call fails
    returning -1 with errno set to E2BIG"; gVisor MsgOpTooBig)."""
    if _no_sysv(ipc_record):
        return
    with sysv_msgqueue() as q:
        q.send(1, b"0123456789")
        too_big = outcome(q.receive, 4, 0, px.IPC_NOWAIT)
        truncated = q.receive(4, 0, px.IPC_NOWAIT | px.MSG_NOERROR)
        gone = outcome(q.receive, 64, 0, px.IPC_NOWAIT)
    ipc_record.observe("without, with MSG_NOERROR", [too_big, repr(truncated)])
    assert too_big == "E2BIG"
    assert truncated == (1, b"0123")
    assert gone == "ENOMSG", "the rest of a truncated message was kept"


@pytest.mark.ipc_property("mq.sysv-full-eagain", ref="msgsnd(2), msgctl(2) msg_qbytes")
def test_sysv_full_eagain(ipc_record) -> None:
    """msgsnd() with IPC_NOWAIT into a queue holding msg_qbytes bytes (MSGMNB by default)
    fails with EAGAIN (msgsnd(2): "If insufficient space is available in the queue ... If
    IPC_NOWAIT is specified in msgflg, then the call instead fails with the error EAGAIN"; LTP
    msgsnd03)."""
    if _no_sysv(ipc_record):
        return
    chunk = 1024
    with sysv_msgqueue() as q:
        sent = 0
        while True:
            result = outcome(q.send, 1, b"m" * chunk, px.IPC_NOWAIT)
            if result != "ok":
                break
            sent += chunk
            assert sent <= 1 << 24, "the queue never filled"
    mnb = proc_sys_int("kernel/msgmnb")
    if mnb is not None:
        ipc_record.limit("SysV msgmnb", mnb, "bytes")
    ipc_record.observe("bytes queued before refusal", sent)
    assert result == "EAGAIN"
    if mnb is not None:
        assert sent == mnb // chunk * chunk


@pytest.mark.ipc_property("mq.sysv-msgmax", ref="msgsnd(2) MSGMAX")
def test_sysv_msgmax(ipc_record) -> None:
    """A message larger than MSGMAX fails with EINVAL (msgsnd(2): "EINVAL msqid was invalid,
    or nonpositive mtype value, or invalid msgsz value (less than 0 or greater than the system
    value MSGMAX)"; Linux /proc/sys/kernel/msgmax)."""
    if _no_sysv(ipc_record):
        return
    msgmax = proc_sys_int("kernel/msgmax")
    if msgmax is None:
        ipc_record.expect("no /proc/sys/kernel/msgmax", linux="EINVAL above, ok at MSGMAX")
        return
    ipc_record.limit("SysV msgmax", msgmax, "bytes")
    with sysv_msgqueue() as q:
        at_max = outcome(q.send, 1, b"x" * msgmax, px.IPC_NOWAIT)
        above = outcome(q.send, 1, b"x" * (msgmax + 1), px.IPC_NOWAIT)
    ipc_record.expect(f"{above} above, {at_max} at MSGMAX", linux="EINVAL above, ok at MSGMAX")


_SYSV_SENDER = """
import os, sys
from pytest_unixipc import posix_ipc
posix_ipc.msgsnd(int(sys.argv[1]), 5, b"from pid %d" % os.getpid())
"""


@pytest.mark.ipc_property("mq.sysv-private-id", ref="msgget(2) IPC_PRIVATE, sysvipc(7)")
def test_sysv_private_id(ipc_record) -> None:
    """IPC_PRIVATE always makes a new queue, and its identifier is system-wide: an unrelated
    process given just the number sends into it (msgget(2): "If key has the value
    IPC_PRIVATE ... a new message queue is created"; sysvipc(7): the identifier names the
    object for every process)."""
    if _no_sysv(ipc_record):
        return
    with sysv_msgqueue() as a, sysv_msgqueue() as b:
        distinct = a.id != b.id
        _run_unrelated(_SYSV_SENDER, str(a.id))
        mtype, data = a.receive(64, 0, px.IPC_NOWAIT)
    ipc_record.observe("received", f"type {mtype}: {data.decode()}")
    assert distinct, "two IPC_PRIVATE queues got the same id"
    assert mtype == 5
    assert data.startswith(b"from pid ")
    assert int(data.split()[-1]) != os.getpid()


def _child_block_in_msgrcv(sock: socket.socket, msqid: int) -> str:
    sock.sendall(b"r")
    try:
        px.msgrcv(msqid, 64, 0, 0)
    except OSError as exc:
        return errno_name(exc)
    return "received"


@pytest.mark.ipc_property("mq.sysv-rmid-eidrm", ref="msgctl(2) IPC_RMID, msgrcv(2)")
def test_sysv_rmid_eidrm(ipc_record) -> None:
    """IPC_RMID removes the queue at once: a process blocked in msgrcv() wakes with EIDRM and
    later calls on the id fail with EINVAL (msgctl(2): "IPC_RMID Immediately remove the message
    queue, awakening all waiting reader and writer processes (with an error return and errno
    set to EIDRM)"; gVisor MsgRcvRmWhileBlocking)."""
    if _no_sysv(ipc_record):
        return
    msqid = px.msgget(px.IPC_PRIVATE, px.IPC_CREAT | 0o600)
    removed = False
    try:
        with forked_peer(_child_block_in_msgrcv, msqid) as peer:
            wait_readable(peer.sock.fileno(), TIMEOUT, "the child reaching msgrcv()")
            peer.sock.recv(1)
            wait_sleeping(peer.pid, TIMEOUT, "the child blocking in msgrcv()")
            px.msgctl_rmid(msqid)
            removed = True
            woken = peer.join(timeout=TIMEOUT)
    finally:
        if not removed:
            px.msgctl_rmid(msqid)
    later = outcome(px.msgsnd, msqid, 1, b"x", px.IPC_NOWAIT)
    ipc_record.observe("blocked receiver, later send", [woken, later])
    assert woken == "EIDRM"
    assert later in ("EINVAL", "EIDRM")


@pytest.mark.ipc_property("mq.sysv-zero-length", ref="msgop(2)")
def test_sysv_zero_length(ipc_record) -> None:
    """msgsnd() of a zero-length message succeeds and msgrcv() returns it, type intact, with
    no text (msgop(2): "Messages of zero length (i.e., no mtext field) are permitted")."""
    if _no_sysv(ipc_record):
        return
    with sysv_msgqueue() as q:
        q.send(7, b"")
        q.send(8, b"after")
        got = [q.receive(64, 0, px.IPC_NOWAIT), q.receive(64, 0, px.IPC_NOWAIT)]
    ipc_record.observe("received", repr(got))
    assert got == [(7, b""), (8, b"after")]
