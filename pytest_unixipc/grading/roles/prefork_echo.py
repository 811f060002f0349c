"""Rubric of the prefork-echo role: ``COMMAND {socket} {workers}``.

A master process listens on the stream socket at ``{socket}``, starts ``{workers}`` worker
processes, and hands each accepted connection to a worker by passing its descriptor over a
Unix domain socket with SCM_RIGHTS; workers echo like echo-server, the master never reads
client data itself, and one worker crashing must not bring the server down (unix(7)
SCM_RIGHTS, fork(2)).

Which process serves a connection is found with sock_diag(7): the peer (UNIX_DIAG_PEER) of
our client socket is the server-side socket, and its holders are the processes with a
``socket:[inode]`` link in ``/proc/<pid>/fd`` (see :mod:`pytest_unixipc.grading.sockdiag`).
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from pytest_unixipc.grading.program import StudentProgram, echo_once, exchange
from pytest_unixipc.grading.sockdiag import holders, peer_inode

UNIXIPC_ROLE = "prefork-echo"
REF = "grading-contract: prefork-echo; unix(7) SCM_RIGHTS, fork(2)"


def workers_of(program: StudentProgram) -> list[int]:
    return program.children()


def expect_workers(program: StudentProgram) -> list[int]:
    """Wait (bounded, paced by echo round trips) until the master has {workers} children."""
    want = int(program.values["workers"])
    found = workers_of(program)
    for i in range(20):
        if len(found) == want or program.remaining() <= 0:
            break
        echo_once(program, f"pacing {i}\n".encode(), "a client was not echoed")
        found = workers_of(program)
    return found


@pytest.mark.ipc_property("prefork-echo.echo", ref=REF)
def test_echo(student_program: StudentProgram) -> None:
    """Clients are echoed exactly, as for echo-server."""
    for i, data in enumerate(
        [b"hello, prefork\n", bytes(range(256)), random.Random(3).randbytes(200_000)], 1
    ):
        echo_once(student_program, data, f"client {i} was not echoed exactly")
    for i in range(4, 11):
        echo_once(student_program, f"client {i}\n".encode(), f"client {i} was not echoed")


@pytest.mark.ipc_property("prefork-echo.workers", ref=REF)
def test_workers(student_program: StudentProgram) -> None:
    """Once it listens, the master has `{workers}` worker processes."""
    program = student_program
    found = expect_workers(program)
    want = int(program.values["workers"])
    if len(found) != want:
        program.fail(
            f"the master (pid {program.pid}) has {len(found)} child processes, "
            f"expected {want} workers"
        )


@pytest.mark.ipc_property("prefork-echo.served-by-worker", ref=REF)
def test_served_by_worker(student_program: StudentProgram) -> None:
    """The server end of each client connection is held by a worker, not by the master."""
    program = student_program
    master = program.pid
    for i in range(1, int(program.values["workers"]) + 2):
        sock = program.connect("stream")
        who: list[int] = []
        # Round trips pace the checks, for at most half the time left, so that a program
        # whose master keeps the connection still gets the verdict that says so.
        give_up = time.monotonic() + program.remaining() / 2
        attempt = 0
        while True:
            attempt += 1
            ex = exchange(sock, f"client {i}, round {attempt}\n".encode(), program.remaining())
            if not ex.ok:
                program.fail_exchange(f"client {i} was not echoed", ex)
            inode = peer_inode(sock)
            if inode is None:
                program.fail(
                    "cannot tell which process serves the connection (sock_diag unavailable)"
                )
            who = holders(inode, program.proc.processes())
            # The master may still hold its copy for a moment after passing it on.
            if (who and master not in who) or time.monotonic() >= give_up:
                break
        sock.close()
        if not who:
            program.fail(
                f"no process of the program holds the server end of client {i}'s connection"
            )
        if master in who:
            program.fail(
                f"the master (pid {master}) still holds client {i}'s connection (holders: "
                f"{who}); pass it to a worker with SCM_RIGHTS and close the master's copy"
            )


@pytest.mark.ipc_property("prefork-echo.concurrent", ref=REF)
def test_concurrent(student_program: StudentProgram) -> None:
    """`{workers}` clients connected at once are all served."""
    program = student_program
    socks = [program.connect("stream") for _ in range(int(program.values["workers"]))]
    for i, sock in enumerate(socks, 1):
        ex = exchange(sock, f"concurrent client {i}\n".encode(), program.remaining())
        if not ex.ok:
            program.fail_exchange(
                f"with {len(socks)} clients connected at once, client {i} was not served", ex
            )
    for sock in socks:
        sock.close()


@pytest.mark.ipc_property("prefork-echo.worker-crash", ref=REF)
def test_worker_crash(student_program: StudentProgram) -> None:
    """After a worker is killed with SIGKILL, new clients are still served."""
    program = student_program
    found = expect_workers(program)
    if not found:
        program.fail("the master has no worker processes to kill")
    victim = found[0]
    os.kill(victim, signal.SIGKILL)
    # Only once it has exited are its descriptors closed: a client passed to it before that
    # dies with it, whatever the master does, so the clients below come after its exit.
    if not program.await_process_exit(victim):
        program.fail(f"worker pid {victim} did not exit after SIGKILL")
    for i in range(1, 2 * int(program.values["workers"]) + 2):
        echo_once(
            program,
            f"after the crash, client {i}\n".encode(),
            f"after worker pid {victim} was killed with SIGKILL, client {i} was not served",
        )
