"""Rubric of the seqpacket-echo role: ``COMMAND {socket}``.

Like echo-server over SOCK_SEQPACKET: each message received is sent back as one message of
the same length and content.  SOCK_SEQPACKET keeps message boundaries; a zero-length message
is a message, and recv() returns 0 for it just as at end of file, so a server must not take
every 0 for the client's close (unix(7), recv(2), poll(2): POLLRDHUP).
"""

from __future__ import annotations

import select
import socket

import pytest

from pytest_unixipc.grading.plugin import ProgramFactory
from pytest_unixipc.grading.program import StudentProgram

UNIXIPC_ROLE = "seqpacket-echo"
REF = "grading-contract: seqpacket-echo; unix(7), recv(2)"
_HANGUP = select.POLLHUP | getattr(select, "POLLRDHUP", 0x2000)


def roundtrip(
    program: StudentProgram, sock: socket.socket, messages: list[bytes], what: str
) -> None:
    """Send ``messages`` back to back, then expect each back as one message, in order."""
    for data in messages:
        try:
            sock.send(data)
        except OSError as exc:
            program.fail(f"{what}: sending failed ({exc})", sent=data)
    for i, data in enumerate(messages, 1):
        reply = receive(program, sock, what, data)
        if reply != data:
            detail = "of a different length" if len(reply) != len(data) else "with different bytes"
            program.fail(
                f"{what}: reply {i} of {len(messages)} is {detail} (on SOCK_SEQPACKET each "
                "recv() returns one whole message if the buffer is large enough; send it back "
                "with one send() of the length recv() returned)",
                sent=data,
                received=reply,
            )


def receive(program: StudentProgram, sock: socket.socket, what: str, sent: bytes) -> bytes:
    """One message, with end of file told apart from an empty message (POLLRDHUP)."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | _HANGUP)
    events = poller.poll(int(program.remaining() * 1000) + 1)
    if not events:
        program.fail(f"{what}: no reply within {program.config.timeout:g} s", sent=sent)
    revents = events[0][1]
    sock.setblocking(False)
    try:
        reply = sock.recv(1 << 18)
    except BlockingIOError:
        reply = b""
    except OSError as exc:
        program.fail(f"{what}: the connection failed ({exc})", sent=sent)
    if not reply and revents & _HANGUP:
        program.fail(f"{what}: the server closed the connection instead of replying", sent=sent)
    return reply


@pytest.mark.ipc_property("seqpacket-echo.creates-socket", ref=REF)
@pytest.mark.grade_required
def test_creates_socket(student_program_factory: ProgramFactory) -> None:
    """A listening SOCK_SEQPACKET socket appears at the path."""
    student_program_factory(wait=True)


@pytest.mark.ipc_property("seqpacket-echo.boundaries", ref=REF)
def test_boundaries(student_program: StudentProgram) -> None:
    """Messages of many sizes come back one for one, same lengths."""
    program = student_program
    sock = program.connect("seqpacket")
    for size in (1, 7, 100, 1000, 4096, 10000, 60000):
        data = bytes((i * 7 + size) % 251 for i in range(size))
        roundtrip(program, sock, [data], f"a {size}-byte message")
    roundtrip(program, sock, [b"a" * 10, b"b" * 200, b"c" * 30], "three messages sent back to back")


@pytest.mark.ipc_property("seqpacket-echo.empty-message", ref=REF)
def test_empty_message(student_program: StudentProgram) -> None:
    """A zero-length message comes back as a zero-length message, and the server goes on."""
    program = student_program
    sock = program.connect("seqpacket")
    roundtrip(program, sock, [b"before the empty message"], "a message")
    sock.send(b"")
    reply = receive(program, sock, "an empty message", b"")
    if reply:
        program.fail("the reply to an empty message was not empty", sent=b"", received=reply)
    roundtrip(program, sock, [b"after the empty message"], "a message after an empty one")


@pytest.mark.ipc_property("seqpacket-echo.sequential-clients", ref=REF)
def test_sequential_clients(student_program: StudentProgram) -> None:
    """Clients one after another are each served."""
    program = student_program
    for i in range(1, 6):
        sock = program.connect("seqpacket")
        roundtrip(program, sock, [f"client {i}".encode(), b"x" * (i * 100)], f"client {i} of 5")
        sock.close()
