"""Bounded waiting: deadlines and poll()-based readiness waits.

Nothing in this project waits with ``time.sleep``: every wait is on an event (a descriptor
becoming readable or writable, a process changing state) and every wait has a deadline whose
failure message names what did not happen.
"""

from __future__ import annotations

import select
import time
from typing import NoReturn

__all__ = ["Deadline", "wait_readable", "wait_writable"]


class Deadline:
    """A point in monotonic time by which ``what`` must have happened."""

    __slots__ = ("_end", "seconds", "what")

    def __init__(self, seconds: float, what: str) -> None:
        if seconds < 0:
            raise ValueError(f"a deadline needs a non-negative number of seconds, got {seconds}")
        self.seconds = seconds
        self.what = what
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self._end

    def fail(self) -> NoReturn:
        raise TimeoutError(f"{self.what} did not happen within {self.seconds:g} s")


def _wait(fd: int, mask: int, timeout: float, what: str) -> int:
    deadline = Deadline(timeout, what)
    poller = select.poll()
    poller.register(fd, mask)
    while True:
        events = poller.poll(deadline.remaining() * 1000)
        if events:
            return events[0][1]
        if deadline.expired():
            deadline.fail()


def wait_readable(fd: int, timeout: float, what: str) -> int:
    """Wait until ``fd`` is readable (or hung up); return the poll() event mask.

    Raises ``TimeoutError("<what> did not happen within <timeout> s")`` otherwise.
    """
    return _wait(fd, select.POLLIN | select.POLLPRI, timeout, what)


def wait_writable(fd: int, timeout: float, what: str) -> int:
    """Wait until ``fd`` is writable; return the poll() event mask (see wait_readable)."""
    return _wait(fd, select.POLLOUT, timeout, what)
