"""Rubric of the dgram-sender role: ``COMMAND {socket} {message} {count}``.

The program sends ``{message}`` (no terminator) as ``{count}`` separate datagrams to the
AF_UNIX SOCK_DGRAM socket at ``{socket}``, printing ``sent N bytes`` for each, then exits 0.
A path too long for sun_path, or nothing bound at the path, is reported on standard error
with a non-zero exit (unix(7): sun_path is 108 bytes on Linux; sendto(2): ENOENT,
ECONNREFUSED).  The grader plays the receiver.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pytest_unixipc.grading.plugin import ProgramFactory
from pytest_unixipc.grading.program import StudentProgram, make_listener, show_bytes

UNIXIPC_ROLE = "dgram-sender"
REF = "grading-contract: dgram-sender; unix(7), sendto(2)"


def run_sender(factory: ProgramFactory) -> tuple[StudentProgram, list[bytes]]:
    """Bind the receiving socket, run the sender to its end, and return every datagram."""
    made: list[socket.socket] = []

    def prepare(_workdir: Path, path: str | None) -> None:
        assert path is not None
        receiver = make_listener(path, "dgram")
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        made.append(receiver)

    program = factory(wait=False, before_start=prepare)
    receiver = program.adopt(made[0])
    receiver.setblocking(False)
    datagrams: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                datagrams.append(receiver.recv(1 << 17))
            except BlockingIOError:
                return

    # Read while it runs (the datagram queue is short), until it ends or the limit.
    while program.proc.returncode is None and program.remaining() > 0:
        program.wait_readable(receiver.fileno())
        drain()
    program.wait_exit(0.05)
    drain()
    if program.proc.returncode is None:
        program.fail(
            f"the sender did not exit within {program.config.timeout:g} s "
            f"({len(datagrams)} datagrams arrived)"
        )
    return program, datagrams


def expected(program: StudentProgram) -> tuple[bytes, int]:
    return program.values["message"].encode(), int(program.values["count"])


@pytest.mark.ipc_property("dgram-sender.sends-count", ref=REF)
def test_sends_count(student_program_factory: ProgramFactory) -> None:
    """Exactly `{count}` datagrams arrive."""
    program, datagrams = run_sender(student_program_factory)
    _message, count = expected(program)
    if len(datagrams) != count:
        program.fail(
            f"{len(datagrams)} datagrams arrived, expected {count} (one sendto() per datagram)",
            received=" ".join(repr(d) for d in datagrams[:10]) or "nothing",
        )


@pytest.mark.ipc_property("dgram-sender.exact-payload", ref=REF)
def test_exact_payload(student_program_factory: ProgramFactory) -> None:
    """Each datagram is exactly `{message}`, no terminator, no padding."""
    program, datagrams = run_sender(student_program_factory)
    message, _count = expected(program)
    if not datagrams:
        program.fail("no datagram arrived")
    for i, data in enumerate(datagrams, 1):
        if data != message:
            why = ""
            if data.rstrip(b"\0") == message:
                why = (
                    " (it carries NUL bytes after the message: send strlen(message) bytes, "
                    "no terminator)"
                )
            program.fail(
                f"datagram {i} is not exactly the message{why}",
                sent=message,
                received=data,
            )


@pytest.mark.ipc_property("dgram-sender.reports", ref=REF)
def test_reports(student_program_factory: ProgramFactory) -> None:
    """One `sent N bytes` line per datagram, N correct."""
    program, datagrams = run_sender(student_program_factory)
    found = program.matching_lines("dgram-sender.sent")
    counts = [int(m.group("count")) for m in found]
    sizes = [len(d) for d in datagrams]
    if counts != sizes:
        program.fail(
            f"the program printed byte counts {counts} in the format "
            f"{program.config.regex('dgram-sender.sent').pattern!r}; the datagrams that arrived "
            f"had sizes {sizes}",
            received=show_bytes(program.proc.stdout),
            hint=program.buffering_hint(),
        )
    if program.proc.returncode != 0:
        program.fail("the sender did not exit 0 after sending")


def check_error_exit(program: StudentProgram, situation: str) -> None:
    code = program.wait_exit()
    if code is None:
        program.fail(f"{situation}, the sender did not exit within {program.config.timeout:g} s")
    if code < 0:
        program.fail(f"{situation}, the sender crashed")
    if code == 0:
        program.fail(
            f"{situation}, the sender exited 0 (check what sendto() returns; exit non-zero)"
        )
    if not program.proc.stderr.strip():
        program.fail(
            f"{situation}, the sender printed nothing on stderr "
            "(use perror() or fprintf(stderr, ...))"
        )


@pytest.mark.ipc_property("dgram-sender.no-receiver", ref=REF)
def test_no_receiver(student_program_factory: ProgramFactory) -> None:
    """With nothing bound at the path: a message on stderr, non-zero exit, no crash."""
    program = student_program_factory(wait=False)
    check_error_exit(program, f"with nothing bound at {program.socket_path}")


@pytest.mark.ipc_property("dgram-sender.path-too-long", ref=REF)
def test_path_too_long(student_program_factory: ProgramFactory) -> None:
    """A path longer than sun_path: a message on stderr, non-zero exit, no crash."""
    if not student_program_factory.socket_in_command():
        pytest.fail(
            "cannot be graded: the command has no {socket} to give a long path", pytrace=False
        )
    # Made in a directory that exists, so only its length is wrong (sun_path: 108 on Linux).
    program = student_program_factory(wait=False, socket_path="/tmp/" + "p" * 200)
    check_error_exit(program, f"given a {len(program.socket_path or '')}-byte path")
