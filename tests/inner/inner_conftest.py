"""conftest.py of the inner pytest sessions that tests/test_*.py run with pytester.

``remember(what, value)`` notes a resource in the ledger file named by $UNIXIPC_TEST_LEDGER,
so the outer test can check after the session that it is gone (even when the session died
without teardown).  ``cleanup_check`` verifies, at its own teardown, which runs after the
teardown of every fixture requested after it, that the fixtures under test closed, removed and
reaped what they made.  ``ending`` ends a test by passing, failing or hanging (for
pytest-timeout), so one body covers cleanup after success, failure and timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest


def _start(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def note(test: str, what: str, value: Any, **extra: Any) -> None:
    """Append one JSON line to the ledger (O_APPEND: whole lines even from xdist workers)."""
    entry = {"test": test, "what": what, "value": value, "by": os.getpid(), **extra}
    if what in ("pid", "runner", "teardown"):
        entry["start"] = _start(int(value))
    fd = os.open(os.environ["UNIXIPC_TEST_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(entry) + "\n").encode())
    finally:
        os.close(fd)


@pytest.fixture
def remember(request: pytest.FixtureRequest) -> Callable[..., None]:
    def remember(what: str, value: Any, **extra: Any) -> None:
        note(request.node.name, what, value, **extra)

    return remember


class CleanupCheck:
    def __init__(self, test: str) -> None:
        self.test = test
        self.sockets: list[socket.socket] = []
        self.fds: list[tuple[int, tuple[int, int]]] = []
        self.paths: list[str] = []
        self.pids: list[int] = []

    def socket(self, *socks: socket.socket) -> None:
        self.sockets += socks

    def fd(self, *fds: int) -> None:
        for fd in fds:
            st = os.fstat(fd)
            self.fds.append((fd, (st.st_dev, st.st_ino)))

    def path(self, *paths: str | os.PathLike[str]) -> None:
        for path in paths:
            self.paths.append(os.fspath(path))
            note(self.test, "path", os.fspath(path))

    def pid(self, *pids: int) -> None:
        for pid in pids:
            self.pids.append(pid)
            note(self.test, "pid", pid)

    def verify(self) -> None:
        problems = []
        problems += [f"socket still open: {s!r}" for s in self.sockets if s.fileno() != -1]
        for fd, ident in self.fds:
            with contextlib.suppress(OSError):
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) == ident:
                    problems.append(f"fd {fd} still open")
        problems += [f"path still exists: {p}" for p in self.paths if os.path.lexists(p)]
        for pid in self.pids:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue  # reaped: not our child any more
            problems.append(f"child pid {pid} not reaped")
        assert not problems, "fixture teardown left: " + "; ".join(problems)


@pytest.fixture
def cleanup_check(request: pytest.FixtureRequest) -> Iterator[CleanupCheck]:
    check = CleanupCheck(request.node.name)
    note(request.node.name, "runner", os.getpid())
    yield check
    note(request.node.name, "teardown", os.getpid())
    check.verify()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With $UNIXIPC_HANG_TIMEOUT, only the hanging tests get that pytest-timeout (signal)."""
    seconds = os.environ.get("UNIXIPC_HANG_TIMEOUT")
    if not seconds:
        return
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("ending") == "hang":
            item.add_marker(pytest.mark.timeout(float(seconds), method="signal"))


@pytest.fixture(params=["pass", "fail", "hang"])
def ending(request: pytest.FixtureRequest) -> Callable[[], None]:
    """Call at the end of a test: pass, fail, or block until pytest-timeout ends the test."""

    def end() -> None:
        if request.param == "fail":
            pytest.fail("deliberate failure after the fixtures were used")
        if request.param == "hang":
            r, _w = os.pipe()
            note(request.node.name, "hanging", os.getpid())
            select.select([r], [], [])  # nothing ever writes: only pytest-timeout ends this

    return end
