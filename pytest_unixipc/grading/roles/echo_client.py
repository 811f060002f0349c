"""Rubric of the echo-client role: ``COMMAND {socket}``.

The program connects to the stream socket at ``{socket}``; for each line of standard input it
sends the line, receives the echo and prints ``echo> `` and the echoed text.  At end of input
it closes the connection and exits 0; when the server closes the connection it prints
``Server closed`` and exits non-zero (unix(7), connect(2), recv(2): 0 means end of file).
The grader plays the server.
"""

from __future__ import annotations

import select
import socket
from pathlib import Path

import pytest

from pytest_unixipc.grading.plugin import ProgramFactory
from pytest_unixipc.grading.program import StudentProgram, make_listener, show_bytes

UNIXIPC_ROLE = "echo-client"
REF = "grading-contract: echo-client; unix(7), connect(2), recv(2)"

LINES = ["hello", "a second, longer line with spaces", "line three: 3"]


def start_client(
    factory: ProgramFactory, lines: list[str], *, end_input: bool = False
) -> tuple[StudentProgram, socket.socket]:
    """Listen at the socket path, start the client with ``lines`` already on its stdin (a
    pipe; closed after them with ``end_input``), and accept its connection.  The input comes
    first so that a client that connects only once it has a line to send is graded too."""
    made: list[socket.socket] = []

    def prepare(_workdir: Path, path: str | None) -> None:
        assert path is not None
        made.append(make_listener(path, "stream"))

    program = factory(wait=False, stdin=True, before_start=prepare)
    listener = program.adopt(made[0])
    program.write_stdin_lines(lines)
    if end_input:
        program.close_stdin()
    return program, program.accept(listener)


def serve_echo(
    program: StudentProgram, conn: socket.socket, until: int | None = None
) -> tuple[bytes, bool]:
    """Echo what the client sends until it closes (or ``until`` bytes arrived, or the limit);
    returns (everything received, whether the client closed)."""
    received = bytearray()
    conn.setblocking(False)
    while until is None or len(received) < until:
        if not program.wait_readable(conn.fileno()):
            ended = program.remaining() <= 0 or program.proc.returncode is not None
            if ended and not _readable_now(conn):
                return bytes(received), False
            continue
        try:
            chunk = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            continue
        except ConnectionResetError:
            return bytes(received), True
        if not chunk:
            return bytes(received), True
        received += chunk
        try:
            conn.sendall(chunk)
        except OSError:
            return bytes(received), True
    return bytes(received), False


def _readable_now(conn: socket.socket) -> bool:
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def check_sent(program: StudentProgram, received: bytes, lines: list[str]) -> None:
    if b"\0" in received:
        program.fail(
            "your client sent NUL bytes: send only the characters of each line (a count from "
            "strlen() or getline(), not sizeof or strlen()+1)",
            sent="\n".join(lines),
            received=received,
        )
    if received.replace(b"\n", b"") != "".join(lines).encode():
        program.fail(
            "the server did not receive exactly the input lines, in order",
            sent="\n".join(lines),
            received=received,
        )


@pytest.mark.ipc_property("echo-client.connects", ref=REF)
@pytest.mark.grade_required
def test_connects(student_program_factory: ProgramFactory) -> None:
    """The client connects to the socket at the path."""
    start_client(student_program_factory, LINES[:1], end_input=True)


@pytest.mark.ipc_property("echo-client.echo-lines", ref=REF)
def test_echo_lines(student_program_factory: ProgramFactory) -> None:
    """Every input line is sent and its echo printed in the format."""
    program, conn = start_client(student_program_factory, LINES, end_input=True)
    received, _closed = serve_echo(program, conn)
    check_sent(program, received, LINES)
    program.wait_exit()
    printed = [m.group("text") for m in program.matching_lines("echo-client.echo")]
    if printed != LINES:
        program.fail(
            f"the output does not show each echoed line in the format "
            f"{program.config.regex('echo-client.echo').pattern!r}: expected the texts "
            f"{LINES!r}, found {printed!r}",
            received=program.proc.stdout,
            hint=program.buffering_hint(),
        )


@pytest.mark.ipc_property("echo-client.eof-closes", ref=REF)
def test_eof_closes(student_program_factory: ProgramFactory) -> None:
    """At end of input the client closes the connection and exits 0."""
    program, conn = start_client(student_program_factory, LINES[:1], end_input=True)
    received, closed = serve_echo(program, conn)
    if not closed:
        program.fail(
            "after the end of its input the client did not close the connection within "
            f"{program.config.timeout:g} s",
            received=received,
        )
    code = program.wait_exit()
    if code != 0:
        program.fail(
            "after the end of its input the client closed the connection but did not exit 0"
            if code is not None
            else "the client did not exit after the end of its input"
        )


@pytest.mark.ipc_property("echo-client.server-closed", ref=REF)
def test_server_closed(student_program_factory: ProgramFactory) -> None:
    """When the server closes, it prints `Server closed` and exits non-zero."""
    program, conn = start_client(student_program_factory, LINES[:1])
    first = LINES[0].encode()
    serve_echo(program, conn, until=len(first))
    conn.close()
    # The client notices on its next send or receive: give it another line.
    program.write_stdin_lines(LINES[1:2])
    code = program.wait_exit()
    closed_rx = program.config.regex("echo-client.closed")
    said = bool(closed_rx.search(program.proc.stdout.decode("utf-8", "replace"))) or bool(
        closed_rx.search(program.proc.stderr.decode("utf-8", "replace"))
    )
    if code is None:
        program.fail(
            "the server closed the connection, then the client got another input line, but it "
            f"did not exit within {program.config.timeout:g} s (recv() returning 0 means the "
            "server closed)"
        )
    if code < 0 or code == 0 or not said:
        problems = []
        if not said:
            problems.append(f"it did not print {closed_rx.pattern!r}")
        if code == 0:
            problems.append("it exited 0")
        program.fail(
            "the server closed the connection and the client "
            + ("ended" if code < 0 else "; ".join(problems)),
            received=show_bytes(program.proc.stdout),
            hint=program.buffering_hint(),
        )
