"""Rubric of the fd-sender role: ``COMMAND {socket} {file}``.

The program opens ``{file}`` read-only, connects to the stream socket at ``{socket}`` and
sends the descriptor with SCM_RIGHTS in a message carrying at least one byte of data, then
exits 0 (unix(7): SCM_RIGHTS; cmsg(3); sendmsg(2)).  The grader plays the receiver.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import socket
from pathlib import Path

import pytest

from pytest_unixipc import recv_fds
from pytest_unixipc.grading.plugin import ProgramFactory
from pytest_unixipc.grading.program import StudentProgram, make_listener

UNIXIPC_ROLE = "fd-sender"
REF = "grading-contract: fd-sender; unix(7) SCM_RIGHTS, cmsg(3)"


def receive_descriptors(factory: ProgramFactory) -> tuple[StudentProgram, bytes, list[int], bytes]:
    """Run the sender; return (program, data received, descriptors received, file contents)."""
    made: list[socket.socket] = []
    contents = f"fd-sender test file {secrets.token_hex(8)}\n".encode()

    def prepare(workdir: Path, path: str | None) -> None:
        assert path is not None
        (workdir / "input.txt").write_bytes(contents)
        os.chmod(workdir / "input.txt", 0o644)
        made.append(make_listener(path, "stream"))

    program = factory(wait=False, before_start=prepare)
    listener = program.adopt(made[0])
    conn = program.accept(listener)
    conn.setblocking(False)
    data = bytearray()
    fds: list[int] = []
    while not fds:
        if not program.wait_readable(conn.fileno()) and program.remaining() <= 0:
            break
        try:
            chunk, got, _flags = recv_fds(conn, 8)
        except BlockingIOError:
            if program.proc.returncode is not None and not program.wait_readable(conn.fileno(), 0):
                break
            continue
        except OSError:
            break
        fds.extend(program.adopt_fd(fd) for fd in got)
        data += chunk
        if not chunk and not got:
            break
    program.wait_exit()
    return program, bytes(data), fds, contents


def one_descriptor(factory: ProgramFactory) -> tuple[StudentProgram, int, bytes]:
    program, data, fds, contents = receive_descriptors(factory)
    if len(fds) != 1:
        program.fail(
            f"{len(fds)} descriptors arrived with SCM_RIGHTS, expected exactly one "
            "(sendmsg() with a cmsghdr of level SOL_SOCKET, type SCM_RIGHTS, and at least one "
            "byte of ordinary data)",
            received=data,
        )
    return program, fds[0], contents


@pytest.mark.ipc_property("fd-sender.sends-descriptor", ref=REF)
def test_sends_descriptor(student_program_factory: ProgramFactory) -> None:
    """Exactly one descriptor arrives with SCM_RIGHTS."""
    one_descriptor(student_program_factory)


@pytest.mark.ipc_property("fd-sender.right-file", ref=REF)
def test_right_file(student_program_factory: ProgramFactory) -> None:
    """The descriptor reads the named file's contents."""
    program, fd, contents = one_descriptor(student_program_factory)
    st = os.fstat(fd)
    want = os.stat(program.values["file"])
    try:
        read = os.pread(fd, len(contents) + 64, 0)
    except OSError as exc:
        read = f"reading it failed: {exc}".encode()
    if (st.st_dev, st.st_ino) != (want.st_dev, want.st_ino) or read != contents:
        program.fail(
            f"the descriptor does not refer to {program.values['file']}",
            sent=contents,
            received=read,
        )


@pytest.mark.ipc_property("fd-sender.read-only", ref=REF)
def test_read_only(student_program_factory: ProgramFactory) -> None:
    """The descriptor was opened read-only."""
    program, fd, _contents = one_descriptor(student_program_factory)
    mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    if mode != os.O_RDONLY:
        name = {os.O_WRONLY: "O_WRONLY", os.O_RDWR: "O_RDWR"}.get(mode, str(mode))
        program.fail(f"the descriptor was opened {name}, not O_RDONLY (open(file, O_RDONLY))")
