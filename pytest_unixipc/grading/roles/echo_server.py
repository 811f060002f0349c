"""Rubric of the echo-server role: ``COMMAND {socket}``.

The program creates an AF_UNIX SOCK_STREAM socket at ``{socket}`` (removing a stale file
first), listens, and echoes every byte of each client, in order, until the client closes;
clients one after another, forever (unix(7), listen(2), accept(2)).
"""

from __future__ import annotations

import random
import socket

import pytest

from pytest_unixipc.grading.plugin import ProgramFactory
from pytest_unixipc.grading.program import StudentProgram, echo_once, exchange

UNIXIPC_ROLE = "echo-server"
REF = "grading-contract: echo-server; unix(7), accept(2)"


@pytest.mark.ipc_property("echo-server.creates-socket", ref=REF)
@pytest.mark.grade_required
def test_creates_socket(student_program_factory: ProgramFactory) -> None:
    """A listening stream socket appears at the path within the time limit."""
    student_program_factory(wait=True)


@pytest.mark.ipc_property("echo-server.echo-short", ref=REF)
def test_echo_short(student_program: StudentProgram) -> None:
    """A short text message comes back exactly."""
    echo_once(student_program, b"hello, unixipc\n", "the echo of a short message differs")


@pytest.mark.ipc_property("echo-server.echo-binary", ref=REF)
def test_echo_binary(student_program: StudentProgram) -> None:
    """All 256 byte values, NUL included, come back exactly."""
    echo_once(
        student_program,
        bytes(range(256)),
        "the echo of all 256 byte values differs (string functions stop at a NUL byte: use "
        "the count read() returned)",
    )


@pytest.mark.ipc_property("echo-server.echo-large", ref=REF)
def test_echo_large(student_program: StudentProgram) -> None:
    """1 MiB sent in one go comes back whole and in order."""
    data = random.Random(1).randbytes(1 << 20)
    echo_once(
        student_program,
        data,
        "the echo of 1 MiB differs (read() and write() may transfer fewer bytes than asked: "
        "loop until everything is written, and keep reading until the client closes)",
    )


@pytest.mark.ipc_property("echo-server.sequential-clients", ref=REF)
def test_sequential_clients(student_program: StudentProgram) -> None:
    """Ten clients, one after another, are each echoed."""
    for i in range(1, 11):
        echo_once(
            student_program, f"client {i} of 10\n".encode(), f"client {i} of 10 was not echoed"
        )


@pytest.mark.ipc_property("echo-server.client-abort", ref=REF)
def test_client_abort(student_program: StudentProgram) -> None:
    """A client that stops reading and closes while the server still has data to echo does not
    kill the server (SIGPIPE).

    The order is fixed so the server's write always comes after the client stopped reading:
    a first message is echoed whole (the server is back in read()), the client shuts its
    reading side (unix(7): the server's end can no longer send), then sends more and closes.
    The server reads that and writes to a peer that no longer reads: EPIPE, and SIGPIPE unless
    it ignores it.  (Had the client closed while the server was blocked in write(), Linux would
    fail that write with ECONNRESET and no signal: the bug would show only sometimes.)
    """
    sock = student_program.connect("stream")
    first = b"a first message, echoed whole\n"
    ex = exchange(sock, first, student_program.remaining())
    if not ex.ok:
        sock.close()
        student_program.fail_exchange("the first message of the client was not echoed", ex)
    sock.shutdown(socket.SHUT_RD)
    sock.setblocking(True)
    try:
        sock.sendall(b"echo this to a client that no longer reads\n")
    except OSError:
        pass  # EPIPE: the server already closed this connection, so it writes nothing more
    finally:
        sock.close()
    if student_program.proc.wait(0.3) is not None:
        student_program.fail(
            "after a client stopped reading and closed, the server's echo to it ended the "
            "server (ignore SIGPIPE and handle EPIPE from write())"
        )
    echo_once(
        student_program,
        b"are you still there?\n",
        "after a client stopped reading and closed, the next client was not served (ignore "
        "SIGPIPE and handle EPIPE from write())",
    )


@pytest.mark.ipc_property("echo-server.stale-socket", ref=REF)
def test_stale_socket(student_program_factory: ProgramFactory) -> None:
    """The server starts when a stale socket file is already at the path."""
    program = student_program_factory(wait=False, stale_socket=True)
    program.await_listening("stream")


@pytest.mark.ipc_property("echo-server.no-fd-leak", ref=REF)
def test_no_fd_leak(student_program: StudentProgram) -> None:
    """After 50 connections the server holds no more descriptors than after the first."""
    program = student_program

    def held_while_connected(label: str) -> int:
        sock = program.connect("stream")
        ex = exchange(sock, label.encode(), program.remaining())
        if not ex.ok:
            sock.close()
            program.fail_exchange(f"{label} was not echoed", ex)
        count = program.fd_count()
        sock.close()
        return count

    first = held_while_connected("connection 1")
    for i in range(2, 51):
        echo_once(program, f"connection {i}\n".encode(), f"connection {i} was not echoed")
    last = held_while_connected("connection 51")
    # Allow a descriptor or two of slack for servers that close asynchronously.
    if last > first + 2:
        program.fail(
            f"the server leaks descriptors: it held {first} with the first client connected "
            f"and {last} with the 51st (close() each accepted connection when its client "
            "is done)"
        )


@pytest.mark.ipc_property("echo-server.concurrent-clients", ref=REF)
@pytest.mark.grade_bonus
def test_concurrent_clients(student_program: StudentProgram) -> None:
    """Two clients connected at once are both served."""
    program = student_program
    first = program.connect("stream")
    ex = exchange(first, b"first client\n", program.remaining())
    if not ex.ok:
        program.fail_exchange("the first client was not echoed", ex)
    second = program.connect("stream")
    ex = exchange(second, b"second client, while the first is connected\n", program.remaining())
    if not ex.ok:
        program.fail_exchange(
            "a second client was not served while the first stayed connected (serve clients "
            "concurrently: fork(), threads or poll())",
            ex,
        )
    ex = exchange(first, b"first client again\n", program.remaining())
    if not ex.ok:
        program.fail_exchange("the first client was not served any more", ex)
