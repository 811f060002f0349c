"""Rubric of the dgram-receiver role: ``COMMAND {socket} {size}``.

The program binds an AF_UNIX SOCK_DGRAM socket at ``{socket}`` (removing a stale file first)
and prints ``N bytes received: "TEXT"`` for every datagram, reading each into a buffer of
``{size}`` bytes; it runs until killed.  A datagram is received whole or, if longer than the
buffer, truncated: the rest is discarded (unix(7), recv(2): MSG_TRUNC).
"""

from __future__ import annotations

import re
import socket

import pytest

from pytest_unixipc.grading.plugin import ProgramFactory
from pytest_unixipc.grading.program import StudentProgram

UNIXIPC_ROLE = "dgram-receiver"
REF = "grading-contract: dgram-receiver; unix(7), recv(2)"
FORMAT = "dgram-receiver.received"


def sender(program: StudentProgram) -> socket.socket:
    sock = program.new_socket("dgram")
    sock.settimeout(max(0.05, program.remaining()))
    return sock


def send(program: StudentProgram, sock: socket.socket, data: bytes) -> None:
    assert program.socket_path is not None
    try:
        sock.sendto(data, program.socket_path)
    except OSError as exc:
        program.fail(f"could not send a datagram to {program.socket_path}: {exc}", sent=data)


def complete_matches(out: bytes, rx: re.Pattern[str]) -> list[re.Match[str]]:
    """Matches of the format among the complete lines of ``out``."""
    text = out.decode("utf-8", "replace")
    lines = text.splitlines()[: text.count("\n")]
    return [m for line in lines if (m := rx.fullmatch(line.rstrip())) is not None]


def wait_lines(program: StudentProgram, count: int, sent: list[bytes]) -> list[re.Match[str]]:
    """Wait (bounded) until ``count`` lines in the format were printed; fail otherwise."""
    rx = program.config.regex(FORMAT)
    program.proc.wait_for_output(
        lambda out: len(complete_matches(out, rx)) >= count, program.remaining()
    )
    found = program.matching_lines(FORMAT)
    if len(found) < count:
        program.fail(
            f"{len(sent)} datagram(s) sent, but only {len(found)} line(s) in the format "
            f"{rx.pattern!r} appeared within {program.config.timeout:g} s",
            sent=" ".join(repr(d) for d in sent),
            received=program.proc.stdout,
            hint=program.buffering_hint(),
        )
    return found


def check_line(program: StudentProgram, match: re.Match[str], expected: bytes, which: str) -> None:
    count = int(match.group("count"))
    text = match.group("text")
    want = expected.decode()
    if count != len(expected) or text != want:
        program.fail(
            f"the line for {which} is wrong: expected {len(expected)} bytes and the text "
            f"{want!r}, the program printed {match.group(0)!r}",
            sent=expected,
        )


@pytest.mark.ipc_property("dgram-receiver.binds", ref=REF)
@pytest.mark.grade_required
def test_binds(student_program_factory: ProgramFactory) -> None:
    """A datagram socket appears at the path."""
    student_program_factory(wait=True)


@pytest.mark.ipc_property("dgram-receiver.one-line-each", ref=REF)
def test_one_line_each(student_program: StudentProgram) -> None:
    """Each datagram gives exactly one line with its byte count and text."""
    program = student_program
    sock = sender(program)
    payloads = [b"one", b"second", b"third datagram"]
    for i, data in enumerate(payloads, 1):
        send(program, sock, data)
        found = wait_lines(program, i, payloads[:i])
        check_line(program, found[i - 1], data, f"datagram {i}")
    # Nothing more than one line per datagram.
    found = program.matching_lines(FORMAT)
    if len(found) != len(payloads):
        program.fail(
            f"{len(payloads)} datagrams gave {len(found)} lines", received=program.proc.stdout
        )


@pytest.mark.ipc_property("dgram-receiver.boundaries", ref=REF)
def test_boundaries(student_program: StudentProgram) -> None:
    """Datagrams sent back to back are reported separately, never merged."""
    program = student_program
    sock = sender(program)
    payloads = [f"msg-{'x' * i}{i}".encode() for i in range(1, 6)]
    for data in payloads:
        send(program, sock, data)
    rx = program.config.regex(FORMAT)
    longest = max(len(p) for p in payloads)

    def done(out: bytes) -> bool:
        found = complete_matches(out, rx)
        return len(found) >= len(payloads) or any(int(m.group("count")) > longest for m in found)

    program.proc.wait_for_output(done, program.remaining())
    for match in program.matching_lines(FORMAT):
        if int(match.group("count")) > longest:
            program.fail(
                f"datagrams were merged: the program printed {match.group(0)!r} for datagrams "
                "sent back to back (each recv() returns one datagram: print one line per recv())",
                sent=" ".join(repr(d) for d in payloads),
            )
    found = wait_lines(program, len(payloads), payloads)
    for i, (match, data) in enumerate(zip(found, payloads, strict=False), 1):
        check_line(program, match, data, f"datagram {i} of {len(payloads)} sent back to back")


@pytest.mark.ipc_property("dgram-receiver.truncates", ref=REF)
def test_truncates(student_program: StudentProgram) -> None:
    """A datagram longer than `{size}` is reported as `{size}` bytes of its start."""
    program = student_program
    size = int(program.values["size"])
    data = bytes(ord("A") + i % 26 for i in range(size * 3))
    send(program, sender(program), data)
    found = wait_lines(program, 1, [data])
    check_line(
        program, found[0], data[:size], f"a {len(data)}-byte datagram read into {size} bytes"
    )


@pytest.mark.ipc_property("dgram-receiver.no-stale-bytes", ref=REF)
def test_no_stale_bytes(student_program: StudentProgram) -> None:
    """A short datagram after a long one shows no leftover bytes of the long one."""
    program = student_program
    size = int(program.values["size"])
    sock = sender(program)
    long = b"L" * max(1, size - 4)
    short = b"short"[: max(1, size)]
    send(program, sock, long)
    wait_lines(program, 1, [long])
    send(program, sock, short)
    found = wait_lines(program, 2, [long, short])
    check_line(
        program,
        found[1],
        short,
        "a short datagram after a long one (print exactly the bytes recv() returned, e.g. "
        'printf("%.*s", (int)n, buf))',
    )


@pytest.mark.ipc_property("dgram-receiver.stale-socket", ref=REF)
def test_stale_socket(student_program_factory: ProgramFactory) -> None:
    """It starts when a stale socket file is already at the path."""
    program = student_program_factory(wait=False, stale_socket=True)
    program.await_listening("dgram")
    send(program, sender(program), b"after a stale file")
    found = wait_lines(program, 1, [b"after a stale file"])
    check_line(program, found[0], b"after a stale file", "a datagram")
