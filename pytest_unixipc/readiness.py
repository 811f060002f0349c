"""Is a server ready?  Ready means it accepts a connection, not that its file exists.

Between bind(2) and listen(2) a socket file exists but connect(2) fails with ECONNREFUSED;
before bind(2) connect fails with ENOENT (unix(7), connect(2)).  A listener whose accept queue
is full does not take a connection either: a non-blocking connect() fails with EAGAIN on Linux
(unix(7)), and the BSDs and macOS refuse it.  A program in another process gives no other
signal that it is ready, so :func:`wait_listening` retries a non-blocking connect() with a
short, growing back-off until its deadline, and reports the last state it saw: no file,
refused, or timed out (a listener exists but connect() would still block when time ran out).
"""

from __future__ import annotations

import errno
import select
import socket

from pytest_unixipc.deadline import Deadline
from pytest_unixipc.kinds import socket_type
from pytest_unixipc.paths import check_sun_path

__all__ = ["NotListening", "probe_listening", "wait_listening"]

_NO_FILE = "no file"
_REFUSED = "refused"
_TIMED_OUT = "timed out"


class NotListening(TimeoutError):
    """Nothing accepted a connection at ``path`` in time; ``state`` says what was seen last."""

    def __init__(self, path: str, timeout: float, state: str, detail: str = "") -> None:
        self.path = path
        self.timeout = timeout
        self.state = state
        explain = {
            _NO_FILE: "no socket file was created at the path",
            _REFUSED: "the socket file exists but nothing listens on it (connect: ECONNREFUSED)",
            _TIMED_OUT: (
                "a listener exists but its accept queue stayed full, so connect() did not "
                "complete (EAGAIN)"
            ),
        }.get(state, state)
        extra = f" ({detail})" if detail else ""
        super().__init__(f"no server listening at {path!r} within {timeout:g} s: {explain}{extra}")


def probe_listening(path: str, kind: str = "stream") -> str | None:
    """One non-blocking connect attempt: None if something listens, else the state seen."""
    sock = socket.socket(socket.AF_UNIX, socket_type(kind))
    try:
        sock.setblocking(False)
        try:
            sock.connect(path)
        except (FileNotFoundError, NotADirectoryError):
            return _NO_FILE
        except ConnectionRefusedError:
            return _REFUSED
        except BlockingIOError:
            # Linux: a listener whose accept queue is full (unix(7)): not ready to take one.
            return _TIMED_OUT
        except OSError as exc:
            if exc.errno in (errno.EPROTOTYPE, errno.ENOTSOCK):
                return f"not a {kind} socket ({errno.errorcode.get(exc.errno or 0, exc)})"
            raise
        return None
    finally:
        sock.close()


def wait_listening(path: str, timeout: float = 5.0, kind: str = "stream") -> None:
    """Return once a ``kind`` socket at ``path`` takes a connection; raise
    :class:`NotListening` with the last state seen when ``timeout`` s pass first.

    The probe connection is closed at once; a server sees it as a client that sent nothing.
    """
    check_sun_path(path)
    deadline = Deadline(timeout, f"a server listening at {path!r}")
    backoff = 0.0005
    while True:
        seen = probe_listening(path, kind)
        if seen is None:
            return
        state = seen
        if deadline.expired():
            raise NotListening(path, timeout, state)
        # Retry back-off: the other process gives no event to wait on (see module docstring).
        select.select([], [], [], min(backoff, deadline.remaining()))
        backoff = min(backoff * 2, 0.05)
