"""Synchronising processes: POSIX semaphores (sem_overview(7)), process-shared and robust
pthread mutexes (pthread_mutexattr_setpshared(3), pthread_mutexattr_setrobust(3)), System V
semaphores (semop(2)) and a pipe used as a barrier (pipe(7)).

References: sem_open(3), sem_init(3), sem_wait(3), sem_post(3), sem_getvalue(3),
sem_unlink(3), pthread_mutex_lock(3p), pthread_mutex_consistent(3), semget(2), semop(2),
semctl(2); LTP's open POSIX test suite (conformance/interfaces/sem_*), gVisor semaphore.cc.
Every wait is bounded: sem_timedwait/pthread_mutex_timedlock take absolute CLOCK_REALTIME
deadlines a few seconds away.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

from pytest_unixipc import forked_peer, wait_readable
from pytest_unixipc import posix_ipc as px
from pytest_unixipc.classic import (
    errno_name,
    named_semaphore,
    os_pipe,
    outcome,
    pshared_mutex,
    shared_anon_mapping,
    sysv_semaphore_set,
    unique_name,
    unnamed_semaphore,
    wait_sleeping,
)

TIMEOUT = 5.0
PAGE = mmap.PAGESIZE


def _recv_byte(sock: socket.socket, what: str) -> bytes:
    wait_readable(sock.fileno(), TIMEOUT, what)
    return sock.recv(1)


_PONG = """
import os, sys
from pytest_unixipc.posix_ipc import NamedSemaphore
ping, pong = NamedSemaphore(sys.argv[1]), NamedSemaphore(sys.argv[2])
ping.wait(5.0)
pong.post()
ping.close(); pong.close()
"""


@pytest.mark.ipc_property("sync.named-semaphore", ref="sem_overview(7), sem_open(3)")
def test_named_semaphore(ipc_record) -> None:
    """A named semaphore synchronises unrelated processes: a separately started interpreter
    opens two semaphores by name, waits on one and posts the other; sem_trywait at 0 fails
    with EAGAIN; after sem_unlink the name is gone (sem_overview(7): "Two processes can operate
    on the same named semaphore by passing the same name to sem_open(3)"; sem_wait(3): EAGAIN
    "The operation could not be performed without blocking")."""
    with named_semaphore(0) as ping, named_semaphore(0) as pong:
        at_zero = outcome(ping.trywait)
        proc = subprocess.Popen(
            [sys.executable, "-c", _PONG, ping.name, pong.name],
            stderr=subprocess.PIPE,
        )
        try:
            ping.post()
            pong.wait(TIMEOUT)  # TimeoutError if the other process never posts
            assert proc.wait(timeout=TIMEOUT) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            assert proc.stderr is not None
            err = proc.stderr.read().decode()
            proc.stderr.close()
        assert proc.returncode == 0, err
        px.sem_unlink(ping.name)
        after_unlink = outcome(px.NamedSemaphore, ping.name)
    ipc_record.observe("sem_trywait at 0, sem_open after unlink", [at_zero, after_unlink])
    assert at_zero == "EAGAIN"
    assert after_unlink == "ENOENT"


def _child_post_after_write(
    sock: socket.socket, mapping: mmap.mmap, sem: px.UnnamedSemaphore
) -> None:
    mapping[512:520] = b"produced"
    sem.post()


@pytest.mark.ipc_property("sync.unnamed-semaphore", ref="sem_init(3)")
def test_unnamed_semaphore(ipc_record) -> None:
    """sem_init(pshared=1) on a semaphore in a MAP_SHARED mapping synchronises parent and
    child: the parent's wait returns after the child's post, and the child's earlier write is
    visible (sem_init(3): "If pshared is nonzero, then the semaphore is shared between
    processes, and should be located in a region of shared memory")."""
    with shared_anon_mapping(PAGE) as mapping, unnamed_semaphore(mapping, 0, 0) as sem:
        at_zero = outcome(sem.trywait)
        with forked_peer(_child_post_after_write, mapping, sem) as peer:
            sem.wait(TIMEOUT)
            seen = mapping[512:520]
            peer.join(timeout=TIMEOUT)
    ipc_record.observe("after the wait", seen.decode(errors="replace"))
    assert at_zero == "EAGAIN"
    assert seen == b"produced"


def _child_hold_mutex(sock: socket.socket, mutex: px.PsharedMutex) -> None:
    mutex.lock(TIMEOUT)
    sock.sendall(b"L")
    _recv_byte(sock, "the parent's release")
    mutex.unlock()


def _child_count(sock: socket.socket, mapping: mmap.mmap, mutex: px.PsharedMutex, n: int) -> None:
    _recv_byte(sock, "go")
    for _ in range(n):
        mutex.lock(TIMEOUT)
        (value,) = struct.unpack_from("q", mapping, 128)
        struct.pack_into("q", mapping, 128, value + 1)
        mutex.unlock()


@pytest.mark.ipc_property("sync.pshared-mutex", ref="pthread_mutexattr_setpshared(3)")
def test_pshared_mutex(ipc_record) -> None:
    """A PTHREAD_PROCESS_SHARED mutex in a shared mapping excludes across processes: while a
    child holds it the parent's trylock fails with EBUSY, and two children incrementing a
    shared counter under it lose no update (pthread_mutexattr_setpshared(3): "permit a mutex to
    be operated upon by any thread that has access to the memory where the mutex is
    allocated, even if the mutex is allocated in memory that is shared by multiple
    processes")."""
    rounds = 3000
    with shared_anon_mapping(PAGE) as mapping, pshared_mutex(mapping, 0) as mutex:
        with forked_peer(_child_hold_mutex, mutex) as peer:
            _recv_byte(peer.sock, "the child taking the mutex")
            while_held = outcome(mutex.trylock)
            peer.sock.sendall(b"R")
            peer.join(timeout=TIMEOUT)
        after = outcome(mutex.trylock)
        mutex.unlock()
        with (
            forked_peer(_child_count, mapping, mutex, rounds) as a,
            forked_peer(_child_count, mapping, mutex, rounds) as b,
        ):
            a.sock.sendall(b"g")
            b.sock.sendall(b"g")
            a.join(timeout=TIMEOUT)
            b.join(timeout=TIMEOUT)
        (total,) = struct.unpack_from("q", mapping, 128)
    ipc_record.observe("trylock held by child, after release", [while_held, after])
    ipc_record.observe("counter", f"{total} of {2 * rounds}")
    assert while_held == "EBUSY"
    assert after == "ok"
    assert total == 2 * rounds, f"{2 * rounds - total} increments were lost"


def _child_after_token(sock: socket.socket, r: int, mapping: mmap.mmap) -> None:
    wait_readable(r, TIMEOUT, "the parent's token in the pipe")
    os.read(r, 1)
    mapping[1:2] = b"2"


@pytest.mark.ipc_property("sync.pipe-as-sync", ref="pipe(7)")
def test_pipe_as_sync(ipc_record) -> None:
    """A blocking read on a pipe orders two processes: the child's step runs only after the
    parent's step and its token write (pipe(7): "If a process attempts to read from an empty
    pipe, then read(2) will block until data is available")."""
    with shared_anon_mapping(PAGE) as mapping, os_pipe() as ends:
        with forked_peer(_child_after_token, ends.r, mapping, pass_fds=[ends.r]) as peer:
            wait_sleeping(peer.pid, TIMEOUT, "the child blocking on the pipe")
            before_token = mapping[:2]
            mapping[0:1] = b"1"
            os.write(ends.w, b"t")
            peer.join(timeout=TIMEOUT)
        order = mapping[:2]
    ipc_record.observe("log", order.decode(errors="replace"))
    assert before_token == b"\0\0", "the child ran its step before the token"
    assert order == b"12"


@pytest.mark.ipc_property("sync.sem-open-excl", ref="sem_open(3)")
def test_sem_open_excl(ipc_record) -> None:
    """sem_open(O_CREAT|O_EXCL) on an existing name fails with EEXIST; O_CREAT alone opens the
    existing semaphore and ignores the value given; a missing name without O_CREAT fails with
    ENOENT (sem_open(3): "If both O_CREAT and O_EXCL are specified in oflag, then an error is
    returned if a semaphore with the given name already exists"; open POSIX sem_open/4,
    /6, /10)."""
    with named_semaphore(3) as sem:
        excl = outcome(px.NamedSemaphore, sem.name, os.O_CREAT | os.O_EXCL, 0o600, 0)
        again = px.NamedSemaphore(sem.name, os.O_CREAT, 0o600, 7)
        try:
            value = again.value
        finally:
            again.close()
    missing = outcome(px.NamedSemaphore, unique_name())
    ipc_record.observe("EXCL, value seen through O_CREAT, missing", [excl, value, missing])
    assert excl == "EEXIST"
    assert value == 3, "O_CREAT on an existing semaphore changed its value"
    assert missing == "ENOENT"


@pytest.mark.ipc_property("sync.sem-value-max", ref="sem_open(3), sem_post(3), limits.h")
def test_sem_value_max(ipc_record) -> None:
    """An initial value above SEM_VALUE_MAX fails with EINVAL, and sem_post() at SEM_VALUE_MAX
    fails with EOVERFLOW (sem_open(3): "EINVAL value was greater than SEM_VALUE_MAX";
    sem_post(3): "EOVERFLOW The maximum allowable value for a semaphore would be exceeded")."""
    limit = os.sysconf("SC_SEM_VALUE_MAX")
    ipc_record.limit("SEM_VALUE_MAX", limit)
    name = unique_name()
    too_big = outcome(px.NamedSemaphore, name, os.O_CREAT | os.O_EXCL, 0o600, limit + 1)
    with contextlib.suppress(FileNotFoundError):
        px.sem_unlink(name)
    with named_semaphore(limit) as sem:
        overflow = outcome(sem.post)
        value = sem.value
    ipc_record.observe("value above max, post at max", [too_big, overflow])
    assert too_big == "EINVAL"
    assert value == limit
    ipc_record.expect(overflow, portable="EOVERFLOW", linux="EOVERFLOW")


@pytest.mark.ipc_property("sync.sem-name-too-long", ref="sem_open(3), sem_overview(7)")
def test_sem_name_too_long(ipc_record) -> None:
    """A semaphore name longer than NAME_MAX-4 characters fails with ENAMETOOLONG
    (sem_overview(7): a name is "a null-terminated string of up to NAME_MAX-4 (i.e., 251)
    characters"; sem_open(3): "ENAMETOOLONG name was too long")."""
    name = "/" + "s" * 300
    result = outcome(px.NamedSemaphore, name, os.O_CREAT | os.O_EXCL, 0o600, 0)
    if result == "ok":
        px.sem_unlink(name)
    ipc_record.expect(
        result,
        portable="ENAMETOOLONG",
        linux="EINVAL",
        note="sem_open(3) lists ENAMETOOLONG; glibc's name check gives EINVAL",
    )


@pytest.mark.ipc_property("sync.sem-unlink-keeps-handles", ref="sem_unlink(3)")
def test_sem_unlink_keeps_handles(ipc_record) -> None:
    """After sem_unlink() the old handle keeps working, and sem_open(O_CREAT) of the same name
    makes a new, different semaphore (sem_unlink(3): "The semaphore name is removed
    immediately. The semaphore is destroyed once all other processes that have the semaphore
    open close it"; open POSIX sem_unlink/2, /6, /9)."""
    with named_semaphore(0) as old:
        px.sem_unlink(old.name)
        old.post()
        old_value = old.value
        new = px.NamedSemaphore(old.name, os.O_CREAT | os.O_EXCL, 0o600, 5)
        try:
            new_value = new.value
            old.trywait()
        finally:
            new.close()
            px.sem_unlink(old.name)
    ipc_record.observe("old after post, new", [old_value, new_value])
    assert old_value == 1
    assert new_value == 5


def _child_sem_wait_eintr(sock: socket.socket, sem: px.UnnamedSemaphore) -> str:
    signal.signal(signal.SIGUSR1, lambda *_: None)  # installed without SA_RESTART
    sock.sendall(b"w")
    try:
        sem.wait(None)  # sem_wait(3): blocks at 0
    except OSError as exc:
        return errno_name(exc)
    return "returned"


@pytest.mark.ipc_property("sync.sem-wait-eintr", ref="sem_wait(3), signal(7)")
def test_sem_wait_eintr(ipc_record) -> None:
    """A process blocked in sem_wait() that catches a signal whose handler was installed
    without SA_RESTART (as Python's signal.signal does) fails with EINTR (sem_wait(3): "EINTR
    The call was interrupted by a signal handler; see signal(7)"; signal(7): sem_wait is
    restarted only under SA_RESTART, since Linux 2.6.22)."""
    with (
        shared_anon_mapping(PAGE) as mapping,
        unnamed_semaphore(mapping, 0, 0) as sem,
        forked_peer(_child_sem_wait_eintr, sem) as peer,
    ):
        _recv_byte(peer.sock, "the child reaching sem_wait()")
        wait_sleeping(peer.pid, TIMEOUT, "the child blocking in sem_wait()")
        os.kill(peer.pid, signal.SIGUSR1)
        result = peer.join(timeout=TIMEOUT)
    ipc_record.observe("sem_wait", result)
    assert result == "EINTR"


@pytest.mark.ipc_property("sync.sem-timedwait-timeout", ref="sem_timedwait(3)")
def test_sem_timedwait_timeout(ipc_record) -> None:
    """sem_timedwait() on a semaphore at 0 fails with ETIMEDOUT once its absolute
    CLOCK_REALTIME deadline passes, and not before (sem_timedwait(3): "ETIMEDOUT The call timed
    out before the semaphore could be locked"; abs_timeout is "an absolute timeout in seconds
    and nanoseconds since the Epoch", i.e. CLOCK_REALTIME; open POSIX sem_timedwait/3, /6)."""
    wait = 0.05
    with named_semaphore(0) as sem:
        start = time.monotonic()
        try:
            sem.wait(wait)
        except OSError as exc:
            result = errno_name(exc)
        else:
            result = "returned"
        elapsed = time.monotonic() - start
    ipc_record.observe("result, elapsed s", [result, round(elapsed, 4)])
    assert result == "ETIMEDOUT"
    assert elapsed >= wait * 0.95, f"timed out after {elapsed:.4f} s, before the deadline"


@pytest.mark.ipc_property("sync.sem-timedwait-einval", ref="sem_timedwait(3)")
def test_sem_timedwait_einval(ipc_record) -> None:
    """A tv_nsec outside [0, 1e9) gives EINVAL only if the call would block; when the semaphore
    can be taken at once the timeout is not checked, even one already in the past
    (sem_timedwait(3): "If the operation can be performed immediately, then sem_timedwait()
    never fails with a timeout error, regardless of the value of abs_timeout. Furthermore, the
    validity of abs_timeout is not checked in this case"; open POSIX sem_timedwait/7, /11)."""
    now = int(time.time())
    bad = (now + 1, 1_000_000_000)
    with named_semaphore(0) as sem:
        blocking = outcome(sem.wait_until, bad)
        sem.post()
        free_bad = outcome(sem.wait_until, bad)
        if free_bad != "ok":
            sem.trywait()  # glibc refused before taking it
        sem.post()
        free_past = outcome(sem.wait_until, (now - 3600, 0))
        empty_past = outcome(sem.wait_until, (now - 3600, 0))
    seen = {"bad/would block": blocking, "past/free": free_past, "past/would block": empty_past}
    ipc_record.observe("results", seen)
    assert seen == {"bad/would block": "EINVAL", "past/free": "ok", "past/would block": "ETIMEDOUT"}
    ipc_record.expect(
        free_bad,
        portable="ok",
        linux="EINVAL",
        note="bad tv_nsec on a free semaphore: POSIX says unchecked; glibc checks it first",
    )


def _child_wait_once(sock: socket.socket, sem: px.UnnamedSemaphore) -> str:
    sock.sendall(b"w")
    sem.wait(TIMEOUT)
    return "woken"


@pytest.mark.ipc_property("sync.sem-getvalue", ref="sem_getvalue(3)")
def test_sem_getvalue(ipc_record) -> None:
    """sem_getvalue() reports the count without changing it; with a process blocked in
    sem_wait POSIX allows 0 or minus the number of waiters, and Linux (glibc) returns 0
    (sem_getvalue(3): "If one or more processes or threads are blocked waiting to lock the
    semaphore with sem_wait(3), POSIX.1 permits two possibilities ... Linux adopts the former
    behavior"; open POSIX sem_getvalue/2, /5)."""
    with shared_anon_mapping(PAGE) as mapping, unnamed_semaphore(mapping, 0, 2) as sem:
        values = [sem.value, sem.value]
        sem.trywait()
        sem.trywait()
        with forked_peer(_child_wait_once, sem) as peer:
            _recv_byte(peer.sock, "the child reaching sem_wait()")
            wait_sleeping(peer.pid, TIMEOUT, "the child blocking in sem_wait()")
            with_waiter = sem.value
            sem.post()
            assert peer.join(timeout=TIMEOUT) == "woken"
    ipc_record.observe("value twice at 2", values)
    assert values == [2, 2]
    ipc_record.expect(str(with_waiter), linux="0", note="POSIX allows 0 or -waiters")


def _child_lock_and_die(sock: socket.socket, mutex: px.PsharedMutex) -> None:
    mutex.lock(TIMEOUT)
    os._exit(0)  # dies holding the mutex


@pytest.mark.ipc_property("sync.robust-eownerdead", ref="pthread_mutexattr_setrobust(3)")
def test_robust_eownerdead(ipc_record) -> None:
    """When the owner of a robust process-shared mutex dies holding it, the next locker gets
    EOWNERDEAD and owns the mutex; after pthread_mutex_consistent() it works normally
    (pthread_mutexattr_setrobust(3): "If the owner dies without unlocking the mutex, any future
    attempts to acquire lock on this mutex will succeed and return EOWNERDEAD")."""
    with shared_anon_mapping(PAGE) as mapping, pshared_mutex(mapping, 0, robust=True) as mutex:
        with forked_peer(_child_lock_and_die, mutex) as peer, contextlib.suppress(AssertionError):
            peer.join(timeout=TIMEOUT)  # PeerDied: it exited without a result, as intended
        first = outcome(mutex.lock, TIMEOUT)
        if first == "EOWNERDEAD":
            mutex.consistent()
        mutex.unlock()
        second = outcome(mutex.lock, TIMEOUT)
        if second == "ok":
            mutex.unlock()
    ipc_record.observe("lock after the owner died, lock after consistent", [first, second])
    assert first == "EOWNERDEAD"
    assert second == "ok"


@pytest.mark.ipc_property("sync.robust-notrecoverable", ref="pthread_mutex_consistent(3)")
def test_robust_notrecoverable(ipc_record) -> None:
    """If the new owner unlocks after EOWNERDEAD without pthread_mutex_consistent(), the mutex
    becomes permanently unusable: later locks fail with ENOTRECOVERABLE
    (pthread_mutexattr_setrobust(3): "If the next owner unlocks the mutex using
    pthread_mutex_unlock(3) before making it consistent, the mutex will be permanently
    unusable and any subsequent attempts to lock it using pthread_mutex_lock(3) will fail with
    the error ENOTRECOVERABLE")."""
    with shared_anon_mapping(PAGE) as mapping, pshared_mutex(mapping, 0, robust=True) as mutex:
        with forked_peer(_child_lock_and_die, mutex) as peer, contextlib.suppress(AssertionError):
            peer.join(timeout=TIMEOUT)
        first = outcome(mutex.lock, TIMEOUT)
        mutex.unlock()  # without consistent()
        second = outcome(mutex.lock, TIMEOUT)
    ipc_record.observe("results", [first, second])
    assert first == "EOWNERDEAD"
    assert second == "ENOTRECOVERABLE"


@pytest.mark.ipc_property("sync.mutex-timedlock", ref="pthread_mutex_timedlock(3p)")
def test_mutex_timedlock(ipc_record) -> None:
    """pthread_mutex_timedlock() on a mutex another process holds fails with ETIMEDOUT at its
    absolute deadline (pthread_mutex_timedlock(3p): "[ETIMEDOUT] The mutex could not be locked
    before the specified timeout expired")."""
    with (
        shared_anon_mapping(PAGE) as mapping,
        pshared_mutex(mapping, 0) as mutex,
        forked_peer(_child_hold_mutex, mutex) as peer,
    ):
        _recv_byte(peer.sock, "the child taking the mutex")
        start = time.monotonic()
        result = outcome(mutex.lock, 0.05)
        elapsed = time.monotonic() - start
        peer.sock.sendall(b"R")
        peer.join(timeout=TIMEOUT)
    ipc_record.observe("result, elapsed s", [result, round(elapsed, 4)])
    assert result == "ETIMEDOUT"
    assert elapsed >= 0.045


@pytest.mark.ipc_property("sync.errorcheck-mutex", ref="pthread_mutex_lock(3p)")
def test_errorcheck_mutex(ipc_record) -> None:
    """A process-shared PTHREAD_MUTEX_ERRORCHECK mutex refuses misuse: unlocking it while
    another process owns it fails with EPERM, and its owner relocking it fails with EDEADLK
    (pthread_mutex_lock(3p): "If the mutex type is PTHREAD_MUTEX_ERRORCHECK ... If a thread
    attempts to relock a mutex that it has already locked, an error shall be returned. If a
    thread attempts to unlock a mutex that it has not locked ... an error shall be
    returned")."""
    kind = px.PTHREAD_MUTEX_ERRORCHECK
    with shared_anon_mapping(PAGE) as mapping, pshared_mutex(mapping, 0, kind=kind) as mutex:
        with forked_peer(_child_hold_mutex, mutex) as peer:
            _recv_byte(peer.sock, "the child taking the mutex")
            foreign_unlock = outcome(mutex.unlock)
            peer.sock.sendall(b"R")
            peer.join(timeout=TIMEOUT)
        mutex.lock(TIMEOUT)
        relock = outcome(mutex.lock, TIMEOUT)
        mutex.unlock()
    ipc_record.observe("unlock by non-owner, relock by owner", [foreign_unlock, relock])
    assert foreign_unlock == "EPERM"
    assert relock == "EDEADLK"


@pytest.mark.ipc_property("sync.sysv-sem-nowait", ref="semop(2)")
def test_sysv_sem_nowait(ipc_record) -> None:
    """semop() that would block fails with EAGAIN under IPC_NOWAIT, and semtimedop() fails
    with EAGAIN when its (relative) timeout expires (semop(2): "If sem_op is less than zero ...
    if IPC_NOWAIT is specified in sem_flg, semop() fails with errno set to EAGAIN";
    "semtimedop() ... fails with errno set to EAGAIN" on timeout; gVisor SemOpSingleNoBlock)."""
    with sysv_semaphore_set(1) as semid:
        px.semctl_setval(semid, 0, 1)
        px.semop(semid, [(0, -1, px.IPC_NOWAIT)])
        nowait = outcome(px.semop, semid, [(0, -1, px.IPC_NOWAIT)])
        timed = outcome(px.semop, semid, [(0, -1, 0)], 0.02)
        value = px.semctl_getval(semid, 0)
    ipc_record.observe("IPC_NOWAIT, semtimedop", [nowait, timed])
    assert nowait == "EAGAIN"
    assert timed == "EAGAIN"
    assert value == 0


def _child_take_with_undo(sock: socket.socket, semid: int) -> int:
    px.semop(semid, [(0, -2, px.SEM_UNDO)])
    return px.semctl_getval(semid, 0)


@pytest.mark.ipc_property("sync.sysv-sem-undo", ref="semop(2) SEM_UNDO")
def test_sysv_sem_undo(ipc_record) -> None:
    """Operations made with SEM_UNDO are undone when the process exits: a child that takes 2
    units and exits gives them back (semop(2): "If an operation specifies SEM_UNDO, it will be
    automatically undone when the process terminates")."""
    with sysv_semaphore_set(1) as semid:
        px.semctl_setval(semid, 0, 3)
        with forked_peer(_child_take_with_undo, semid) as peer:
            in_child = peer.join(timeout=TIMEOUT)
        after_exit = px.semctl_getval(semid, 0)
    ipc_record.observe("value in the child, after its exit", [in_child, after_exit])
    assert in_child == 1
    assert after_exit == 3, "the exited child's SEM_UNDO adjustment was not undone"


def _child_block_on_set(sock: socket.socket, semid: int) -> str:
    sock.sendall(b"w")
    try:
        px.semop(semid, [(0, -1, 0)], TIMEOUT)
    except OSError as exc:
        return errno_name(exc)
    return "acquired"


@pytest.mark.ipc_property("sync.sysv-sem-rmid-eidrm", ref="semop(2), semctl(2) IPC_RMID")
def test_sysv_sem_rmid_eidrm(ipc_record) -> None:
    """A process blocked in semop() is counted by GETNCNT and, when the set is removed, wakes
    with EIDRM (semop(2): "EIDRM The semaphore set was removed"; semctl(2): "IPC_RMID
    Immediately remove the semaphore set, awakening all processes blocked in semop(2) calls";
    gVisor SemOpRemoveWithWaiter)."""
    semid = px.semget(px.IPC_PRIVATE, 1, px.IPC_CREAT | 0o600)
    removed = False
    try:
        with forked_peer(_child_block_on_set, semid) as peer:
            _recv_byte(peer.sock, "the child reaching semop()")
            wait_sleeping(peer.pid, TIMEOUT, "the child blocking in semop()")
            ncnt = px.semctl_getncnt(semid, 0)
            px.semctl_rmid(semid)
            removed = True
            result = peer.join(timeout=TIMEOUT)
    finally:
        if not removed:
            px.semctl_rmid(semid)
    ipc_record.observe("GETNCNT with the child blocked", ncnt)
    assert ncnt == 1
    assert result == "EIDRM"
