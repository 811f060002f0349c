"""Rubric of the fd-receiver role: ``COMMAND {socket}``.

The program connects to the stream socket at ``{socket}``, receives one descriptor with
SCM_RIGHTS, copies everything it reads from that descriptor to standard output until end of
file, and exits 0 (unix(7) SCM_RIGHTS, recvmsg(2), cmsg(3)).  The grader plays the server and
passes the read end of a pipe.
"""

from __future__ import annotations

import dataclasses
import os
import random
import socket
from pathlib import Path

import pytest

from pytest_unixipc import send_fds, wait_writable
from pytest_unixipc.grading.plugin import ProgramFactory
from pytest_unixipc.grading.program import StudentProgram, make_listener

UNIXIPC_ROLE = "fd-receiver"
REF = "grading-contract: fd-receiver; unix(7) SCM_RIGHTS, recvmsg(2)"


def _prefill(write_end: int, payload: bytes) -> int:
    """Write as much of ``payload`` as the empty pipe takes without blocking; bytes written."""
    written = 0
    while written < len(payload):
        try:
            written += os.write(write_end, payload[written : written + 65536])
        except BlockingIOError:
            break
    return written


def pass_pipe(factory: ProgramFactory, payload: bytes) -> StudentProgram:
    """Start the receiver, pass it a pipe's read end, write ``payload`` into the pipe and
    close it; fail if the program does not read it all."""
    made: list[socket.socket] = []

    def prepare(_workdir: Path, path: str | None) -> None:
        assert path is not None
        made.append(make_listener(path, "stream"))

    limits = dataclasses.replace(
        factory.gconf.limits, output_cap=max(factory.gconf.limits.output_cap, len(payload) + 4096)
    )
    program = factory(wait=False, before_start=prepare, limits=limits)
    listener = program.adopt(made[0])
    conn = program.accept(listener)
    read_end, write_end = os.pipe()
    program.adopt_fd(read_end)
    program.adopt_fd(write_end)
    os.set_blocking(write_end, False)
    # What fits goes into the pipe before the descriptor is passed, and a payload that fits
    # whole is followed by end of file at once: so no verdict depends on whether the program
    # exits before the grader gets to write (which would give EPIPE).
    written = _prefill(write_end, payload)
    if written == len(payload):
        program.close_fd(write_end)
    try:
        send_fds(conn, [read_end], b"F")
    except OSError as exc:
        program.fail(f"could not pass the descriptor: the connection failed ({exc})")
    program.close_fd(read_end)
    conn.close()
    while written < len(payload):
        try:
            wait_writable(write_end, program.remaining(), "room in the pipe")
            written += os.write(write_end, payload[written : written + 65536])
        except BlockingIOError:
            continue
        except (TimeoutError, BrokenPipeError) as exc:
            ended = "closed the pipe" if isinstance(exc, BrokenPipeError) else "stopped reading"
            program.fail(
                f"the program {ended} after {written} of {len(payload)} bytes were written "
                "into the passed descriptor (read from the descriptor that arrived with "
                "SCM_RIGHTS, not from the socket, until read() returns 0)"
            )
    program.close_fd(write_end)
    return program


def check_output(program: StudentProgram, payload: bytes) -> None:
    program.wait_exit()
    out = program.proc.stdout
    if out != payload:
        program.fail(
            "standard output is not what was written into the passed descriptor",
            sent=payload,
            received=out,
            hint=None if out else "hint: copy what you read from the passed descriptor to stdout",
        )


@pytest.mark.ipc_property("fd-receiver.uses-descriptor", ref=REF)
def test_uses_descriptor(student_program_factory: ProgramFactory) -> None:
    """The contents behind the passed descriptor (a pipe) appear on stdout."""
    payload = b"these bytes came through the passed pipe\n"
    check_output(pass_pipe(student_program_factory, payload), payload)


@pytest.mark.ipc_property("fd-receiver.large", ref=REF)
def test_large(student_program_factory: ProgramFactory) -> None:
    """1 MiB through the passed descriptor arrives whole."""
    payload = random.Random(2).randbytes(1 << 20)
    check_output(pass_pipe(student_program_factory, payload), payload)


@pytest.mark.ipc_property("fd-receiver.exits", ref=REF)
def test_exits(student_program_factory: ProgramFactory) -> None:
    """It exits 0 after end of file."""
    program = pass_pipe(student_program_factory, b"short input\n")
    code = program.wait_exit()
    if code != 0:
        program.fail(
            "after end of file on the passed descriptor the program "
            + ("did not exit" if code is None else "did not exit 0")
        )
