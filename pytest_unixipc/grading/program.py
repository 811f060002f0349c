"""The student program under test, as the role tests and instructors' own tests see it.

:class:`StudentProgram` wraps a :class:`~pytest_unixipc.grading.sandbox.SandboxedProcess`
with the socket path it was given, clients connected to it, and :meth:`StudentProgram.fail`,
which fails the test with feedback a student can act on: what was sent, what came back (or
that nothing did within the limit, or which signal ended the program) and the last lines of
the program's stderr.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shlex
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest

from pytest_unixipc import NotListening, socket_type, wait_listening
from pytest_unixipc.grading.sandbox import Limits, SandboxedProcess

__all__ = [
    "DEFAULT_REGEXES",
    "DEFAULT_VALUES",
    "REGEX_GROUPS",
    "Exchange",
    "GradingConfig",
    "StudentProgram",
    "echo_once",
    "exchange",
    "show_bytes",
    "substitute",
]

#: Default output formats (a course can replace each with its own regular expression).
DEFAULT_REGEXES: dict[str, str] = {
    "echo-client.echo": r"echo> (?P<text>.*)",
    "echo-client.closed": r"Server closed",
    "dgram-receiver.received": r'(?P<count>\d+) bytes received: "(?P<text>.*)"',
    "dgram-sender.sent": r"sent (?P<count>\d+) bytes",
}
#: Named groups each format must have.
REGEX_GROUPS: dict[str, tuple[str, ...]] = {
    "echo-client.echo": ("text",),
    "echo-client.closed": (),
    "dgram-receiver.received": ("count", "text"),
    "dgram-sender.sent": ("count",),
}
#: Values the grader puts in place of the placeholders (besides {socket} and {file}).
DEFAULT_VALUES: dict[str, str] = {
    "size": "64",
    "message": "hello-unixipc",
    "count": "5",
    "workers": "3",
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")

_SIGNAL_HINTS = {
    "SIGPIPE": " (it wrote to a connection the peer had closed; ignore SIGPIPE with "
    "signal(SIGPIPE, SIG_IGN) or use send(..., MSG_NOSIGNAL) and handle EPIPE)",
    "SIGSEGV": " (a memory error: check buffer sizes and pointers, e.g. with valgrind)",
    "SIGBUS": " (a memory error: check buffer sizes and pointers, e.g. with valgrind)",
    "SIGABRT": " (abort(): a failed assert() or a corrupted heap)",
    "SIGXCPU": " (it used up its CPU time limit: a busy loop?)",
    "SIGXFSZ": " (it wrote a file larger than the file size limit)",
}

_BUFFERING_HINT = (
    "hint: stdout is a pipe here, not a terminal, so printf() output is fully buffered; "
    "call fflush(stdout) after each line or setvbuf(stdout, NULL, _IOLBF, 0) at the start"
)


@dataclass
class GradingConfig:
    """Everything a grading run was configured with (the plugin's options)."""

    role: str | None = None
    command: list[str] = field(default_factory=list)
    socket_name: str | None = None
    timeout: float = 3.0
    limits: Limits = field(default_factory=Limits)
    user: str | None = None
    points: dict[str, float] = field(default_factory=dict)
    hidden: dict[str, str] = field(default_factory=dict)
    regexes: dict[str, re.Pattern[str]] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_VALUES))
    sandbox_tag: str | None = None
    state_dir: str | None = None

    def regex(self, name: str) -> re.Pattern[str]:
        return self.regexes.get(name) or re.compile(DEFAULT_REGEXES[name])

    def command_text(self) -> str:
        return shlex.join(self.command)


def substitute(words: Sequence[str], values: dict[str, str]) -> list[str]:
    """Replace ``{name}`` placeholders in every word (KeyError for an unknown name)."""
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], word) for word in words]


def show_bytes(data: bytes, limit: int = 72) -> str:
    """A short, readable rendering of ``data`` with its length."""
    n = len(data)
    unit = "byte" if n == 1 else "bytes"
    if n <= limit:
        return f"{data!r} ({n} {unit})"
    return f"{data[: limit // 2]!r}...{data[-8:]!r} ({n} {unit})"


def first_difference(expected: bytes, got: bytes) -> str:
    """Words for how ``got`` differs from ``expected``."""
    for i, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return f"first difference at byte {i}: expected 0x{a:02x}, got 0x{b:02x}"
    if len(got) < len(expected):
        return f"only {len(got)} of {len(expected)} bytes came back"
    if len(got) > len(expected):
        return f"{len(got) - len(expected)} extra bytes came back"
    return "identical"


@dataclass
class Exchange:
    """What happened when data was sent on a stream socket and its echo awaited."""

    sent: bytes
    sent_count: int
    received: bytes
    #: "complete", "eof" (peer closed), "timeout", "reset", "send failed"
    ended: str
    error: str = ""
    timeout: float = 0.0

    @property
    def ok(self) -> bool:
        return self.ended == "complete" and self.received == self.sent

    def ending(self) -> str:
        return {
            "complete": "",
            "eof": "then the server closed the connection",
            "timeout": f"then nothing more arrived within {self.timeout:.1f} s",
            "reset": f"then the connection was reset ({self.error})",
            "send failed": f"sending failed after {self.sent_count} bytes ({self.error})",
        }[self.ended]


def exchange(
    sock: socket.socket, data: bytes, timeout: float, expect: int | None = None
) -> Exchange:
    """Send ``data`` and read until ``expect`` (default ``len(data)``) bytes came back, the
    peer closed, an error, or ``timeout`` — sending and receiving at once (poll(2)), so large
    messages cannot deadlock on full socket buffers."""
    want = len(data) if expect is None else expect
    sock.setblocking(False)
    received = bytearray()
    sent = 0
    deadline = _Deadline(timeout)
    poller = select.poll()
    ended = "timeout"
    error = ""
    while len(received) < want:
        mask = select.POLLIN | (select.POLLOUT if sent < len(data) else 0)
        poller.register(sock.fileno(), mask)
        events = poller.poll(deadline.remaining_ms())
        if not events:
            if deadline.expired():
                break
            continue
        revents = events[0][1]
        if revents & select.POLLOUT and sent < len(data):
            try:
                sent += sock.send(data[sent : sent + 65536])
            except BlockingIOError:
                pass
            except OSError as exc:
                ended, error = "send failed", _errno_text(exc)
                break
        if revents & (select.POLLIN | select.POLLHUP | select.POLLERR):
            try:
                chunk = sock.recv(262144)
            except BlockingIOError:
                continue
            except OSError as exc:
                ended, error = "reset", _errno_text(exc)
                break
            if not chunk:
                ended = "eof"
                break
            received += chunk
    else:
        ended = "complete"
    return Exchange(data, sent, bytes(received), ended, error, timeout)


def _errno_text(exc: OSError) -> str:
    import errno as _errno

    name = _errno.errorcode.get(exc.errno or 0, "")
    return f"{name}: {exc.strerror}" if name else str(exc)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        import time

        self._time = time.monotonic
        self._end = time.monotonic() + max(0.0, seconds)

    def remaining(self) -> float:
        return max(0.0, self._end - self._time())

    def remaining_ms(self) -> int:
        return int(self.remaining() * 1000) + 1

    def expired(self) -> bool:
        return self._time() >= self._end


class StudentProgram:
    """A student program started in the sandbox for one property (a fixture value)."""

    def __init__(
        self,
        proc: SandboxedProcess,
        *,
        workdir: Path,
        socket_path: str | None,
        values: dict[str, str],
        argv: list[str],
        config: GradingConfig,
        property_id: str | None,
    ) -> None:
        self.proc = proc
        self.workdir = workdir
        self.socket_path = socket_path
        self.values = values
        self.argv = argv
        self.config = config
        self.property_id = property_id
        self._sockets: list[socket.socket] = []
        self._fds: list[int] = []

    @property
    def pid(self) -> int:
        return self.proc.pid

    def remaining(self) -> float:
        """Seconds left of this property's wall-clock limit."""
        return self.proc.remaining()

    # -- feedback -------------------------------------------------------------------------

    def describe(self) -> list[str]:
        """Lines about the program's state and its last stderr lines (for feedback)."""
        code = self.proc.returncode
        if code is None:
            state = "your program was still running"
        else:
            state = "your program " + self.proc.status()
            if code < 0:
                state += _SIGNAL_HINTS.get(self.proc.signal or "", "")
        lines = [state]
        tail = self.proc.stderr_tail
        if tail:
            lines.append("last lines of its stderr:")
            lines.extend(f"  | {line}" for line in tail)
        else:
            lines.append("its stderr was empty")
        return lines

    def fail(
        self,
        problem: str,
        *,
        sent: bytes | str | None = None,
        received: bytes | str | None = None,
        hint: str | None = None,
    ) -> NoReturn:
        """Fail the property with feedback a student can act on."""
        # Give a program that just died a moment to be seen dead, so the signal is reported.
        self.proc.wait(0.05)
        lines = [problem]
        if sent is not None:
            lines.append(f"  sent:     {show_bytes(sent) if isinstance(sent, bytes) else sent}")
        if received is not None:
            lines.append(
                f"  received: {show_bytes(received) if isinstance(received, bytes) else received}"
            )
        lines.append(f"  command:  {shlex.join(self.argv)}")
        lines.extend(self.describe())
        if hint:
            lines.append(hint)
        # `from None`: called inside an except block, the report must not show the chain.
        raise pytest.fail.Exception("\n".join(lines), pytrace=False) from None

    def fail_exchange(self, what: str, ex: Exchange) -> NoReturn:
        """Fail for an echo that did not come back whole."""
        if ex.received == ex.sent and ex.ended == "complete":
            raise AssertionError("fail_exchange called for a good exchange")
        detail = first_difference(ex.sent, ex.received)
        ending = ex.ending()
        problem = f"{what}: {detail}" + (f", {ending}" if ending else "")
        if not ex.received and ex.ended == "timeout":
            problem = f"{what}: nothing came back within {ex.timeout:.1f} s"
        self.fail(problem, sent=ex.sent, received=ex.received)

    def buffering_hint(self) -> str | None:
        return _BUFFERING_HINT if not self.proc.stdout else None

    # -- sockets --------------------------------------------------------------------------

    def await_listening(self, kind: str = "stream", path: str | None = None) -> None:
        """Wait (bounded by the property's limit) until the program listens at its socket
        (``wait_listening``), failing early with feedback if the program ends first."""
        target = path or self.socket_path
        if target is None:
            raise RuntimeError("this program has no socket path")
        what = {"stream": "listening stream", "dgram": "bound datagram"}.get(
            kind, f"listening {kind}"
        )
        while True:
            try:
                wait_listening(target, timeout=min(0.25, self.remaining()), kind=kind)
                return
            except NotListening as exc:
                state = exc.state
            if self.proc.returncode is not None or self.remaining() <= 0:
                break
        explain = {
            "no file": "no socket file was created at the path",
            "refused": "the socket file exists but nothing listens on it (connect: ECONNREFUSED)",
        }.get(state, state)
        when = (
            "before it ended"
            if self.proc.returncode is not None
            else f"within {self.config.timeout:g} s"
        )
        self.fail(f"no {what} socket appeared at {target} {when}: {explain}")

    def connect(self, kind: str = "stream", *, path: str | None = None) -> socket.socket:
        """A client socket connected to the program's socket; closed at teardown."""
        target = path or self.socket_path
        assert target is not None
        sock = socket.socket(socket.AF_UNIX, socket_type(kind))
        self._sockets.append(sock)
        sock.settimeout(max(0.05, self.remaining()))
        try:
            sock.connect(target)
        except (FileNotFoundError, ConnectionRefusedError, TimeoutError) as exc:
            self.proc.wait(0.2)
            self.fail(f"could not connect to {target}: {_errno_text(exc)}")
        return sock

    def new_socket(self, kind: str = "dgram") -> socket.socket:
        """An unconnected AF_UNIX socket, closed at teardown."""
        sock = socket.socket(socket.AF_UNIX, socket_type(kind))
        self._sockets.append(sock)
        return sock

    def adopt(self, sock: socket.socket) -> socket.socket:
        """Close ``sock`` at teardown."""
        self._sockets.append(sock)
        return sock

    def write_stdin_lines(self, lines: Sequence[str]) -> bool:
        """Write each line and a newline to the program's stdin (a pipe)."""
        return self.proc.write_stdin("".join(f"{line}\n" for line in lines).encode())

    def close_stdin(self) -> None:
        self.proc.close_stdin()

    def adopt_fd(self, fd: int) -> int:
        """Close descriptor ``fd`` at teardown (unless closed with :meth:`close_fd`)."""
        self._fds.append(fd)
        return fd

    def close_fd(self, fd: int) -> None:
        if fd in self._fds:
            self._fds.remove(fd)
            os.close(fd)

    def close_sockets(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._sockets.clear()
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def wait_readable(self, fd: int, timeout: float | None = None) -> bool:
        """Wait (bounded) until ``fd`` is readable; False if the limit passed or the program
        ended first (then ``fd`` may still have become readable: check again)."""
        limit = self.remaining() if timeout is None else timeout
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        pidfd = self.proc.pidfd
        if pidfd is not None and self.proc.returncode is None:
            poller.register(pidfd, select.POLLIN)
        events = dict(poller.poll(int(limit * 1000) + 1))
        return fd in events

    def accept(
        self, listener: socket.socket, what: str = "your program did not connect"
    ) -> socket.socket:
        """Accept the program's connection on ``listener`` (bounded by the property's limit;
        fails early with feedback if the program ends without connecting)."""
        while True:
            if self.wait_readable(listener.fileno()):
                conn, _ = listener.accept()
                self._sockets.append(conn)
                return conn
            if self.proc.returncode is not None:
                # It ended: a connection made just before is still queued.
                if self.wait_readable(listener.fileno(), 0):
                    continue
                self.fail(f"{what} to {self.socket_path} before it ended")
            if self.remaining() <= 0:
                self.fail(f"{what} to {self.socket_path} within {self.config.timeout:g} s")

    # -- processes ------------------------------------------------------------------------

    def fd_count(self, pid: int | None = None) -> int:
        """How many descriptors ``pid`` (default: the program) holds (``/proc/<pid>/fd``)."""
        return len(os.listdir(f"/proc/{pid or self.pid}/fd"))

    def children(self) -> list[int]:
        """Live child processes of the program."""
        return self.proc.children_of(self.pid)

    def wait_exit(self, timeout: float | None = None) -> int | None:
        """Wait (bounded) for the program to end; its return code, or None if still running."""
        return self.proc.wait(self.remaining() if timeout is None else timeout)

    def await_process_exit(self, pid: int) -> bool:
        """Wait (bounded by the property's limit) until process ``pid`` of the program has
        exited (a zombie counts: its descriptors are closed); False if it is still running.

        A pidfd (pidfd_open(2)) turns readable when the process exits, whoever its parent is.
        """
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return True  # gone, and reaped already
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            return bool(poller.poll(int(self.remaining() * 1000) + 1))
        finally:
            os.close(pidfd)

    def matching_lines(self, name: str, *, search: bool = False) -> list[re.Match[str]]:
        """Stdout lines matching the course's format ``name`` (full match by default)."""
        rx = self.config.regex(name)
        out = []
        for line in self.proc.stdout_lines():
            m = rx.search(line) if search else rx.fullmatch(line.rstrip())
            if m is not None:
                out.append(m)
        return out


def make_listener(path: str, kind: str = "stream") -> socket.socket:
    """A socket bound at ``path`` (listening unless a datagram socket), for roles whose
    program is the client.  The file is made connectable by any user (connect(2) needs write
    permission on a socket file), for programs dropped to another user."""
    sock = socket.socket(socket.AF_UNIX, socket_type(kind))
    try:
        sock.bind(path)
        os.chmod(path, 0o777)
        if kind != "dgram":
            sock.listen(8)
    except OSError:
        sock.close()
        raise
    return sock


def echo_once(program: StudentProgram, data: bytes, what: str) -> None:
    """One stream client of an echo server: connect, send ``data``, expect it back whole,
    close; fail the property with ``what`` and the exchange otherwise."""
    sock = program.connect("stream")
    ex = exchange(sock, data, program.remaining())
    sock.close()
    if not ex.ok:
        program.fail_exchange(what, ex)
