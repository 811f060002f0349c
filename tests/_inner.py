"""Helpers of the outer plugin tests: run an inner pytest session and check what it left.

Every inner session runs in a subprocess, under ``tests/_reaper.py`` (a child subreaper), with
``--unixipc-sock-root`` pointing at a private short directory of the outer test, and with the
environment variable ``UNIXIPC_TEST_LEDGER`` naming a file where the inner tests note the
resources they made (see ``tests/inner/inner_conftest.py``).  Afterwards the outer test can
check that every noted path and process is gone, that the socket root is empty, and that the
session left no orphan processes at all.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
INNER = HERE / "inner"
REAPER = HERE / "_reaper.py"

#: Seconds an inner session may run before pytester kills it (a bug, not a slow machine).
SESSION_TIMEOUT = 120.0


@dataclass
class InnerRun:
    """An inner session's result, its ledger and the orphans the reaper found."""

    result: pytest.RunResult
    ledger: list[dict[str, Any]]
    orphans: list[dict[str, Any]]
    sock_root: Path | None
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return "\n".join(self.result.outlines + self.result.errlines)

    def noted(self, what: str) -> list[dict[str, Any]]:
        return [entry for entry in self.ledger if entry["what"] == what]

    def assert_outcomes(self, **expected: int) -> None:
        """Like RunResult.assert_outcomes, showing the whole output when it does not match."""
        wanted = {key: value for key, value in expected.items() if value}
        got = {key: value for key, value in self.outcomes.items() if value}
        assert got == wanted, f"outcomes {got} != {wanted}; output:\n{self.output}"


def add_suite(pytester: pytest.Pytester, *names: str) -> None:
    """Copy the inner conftest and the named suites (``tests/inner/<name>.py``) in as test files."""
    pytester.makeconftest((INNER / "inner_conftest.py").read_text())
    for name in names:
        pytester.makepyfile(**{f"test_{name}": (INNER / f"{name}.py").read_text()})


def run_inner(
    pytester: pytest.Pytester,
    *args: str,
    sock_root: Path | None = None,
    grace: float = 5.0,
    extra_env: dict[str, str] | None = None,
) -> InnerRun:
    """Run ``pytest *args`` in a subprocess under the reaper; see the module docstring.

    ``sock_root`` (a short directory, e.g. the outer ``ipc_tmp_path``) becomes the inner
    ``--unixipc-sock-root``; None leaves the inner default (/tmp).  ``extra_env`` is added to
    the inner session's environment.
    """
    ledger = pytester.path / "ledger.jsonl"
    reaped = pytester.path / "reaper.json"
    for stale in (ledger, reaped):
        stale.unlink(missing_ok=True)
    options = ["-p", "no:cacheprovider", f"--rootdir={pytester.path}"]
    if not any(arg.startswith("--basetemp") for arg in args):
        options.append(f"--basetemp={pytester.path / 'basetemp'}")
    if sock_root is not None:
        options.append(f"--unixipc-sock-root={sock_root}")  # "=": not a path argument
    with pytest.MonkeyPatch.context() as env:
        env.setenv("UNIXIPC_TEST_LEDGER", str(ledger))
        env.setenv("COLUMNS", "240")  # whole short-summary lines
        for name, value in (extra_env or {}).items():
            env.setenv(name, value)
        # An outer xdist worker's id must not leak into the inner session's directory names.
        for name in (
            "PYTEST_XDIST_WORKER",
            "PYTEST_XDIST_WORKER_COUNT",
            "PYTEST_UNIXIPC_SOCK_ROOT",
        ):
            env.delenv(name, raising=False)
        result = pytester.run(
            sys.executable,
            str(REAPER),
            str(reaped),
            str(grace),
            "--",
            sys.executable,
            "-m",
            "pytest",
            *options,
            *args,
            timeout=SESSION_TIMEOUT,
        )
    entries = []
    if ledger.exists():
        entries = [json.loads(line) for line in ledger.read_text().splitlines() if line]
    orphans = json.loads(reaped.read_text())["orphans"]
    try:
        outcomes = result.parseoutcomes()
        outcomes.pop("deselected", None)
    except ValueError:  # no summary line: the session died (pytest-timeout's thread method)
        outcomes = {}
    return InnerRun(result, entries, orphans, sock_root, outcomes)


def process_start(pid: int) -> str | None:
    """The start time of ``pid`` (field 22 of /proc/<pid>/stat), or None if it does not exist.

    A pid with another start time is another process that reused the number.
    """
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def wait_gone(pid: int, start: str | None, timeout: float = 5.0) -> bool:
    """Wait until process ``pid`` (started at ``start``) no longer exists; False on timeout.

    ``pid`` is not our child, so neither waitpid() nor waitid() can wait for it, and a pidfd
    would only tell us it exited, not that its parent reaped it.  So this polls /proc/<pid>
    with a bounded, doubling back-off (select() as the timer, from 1 ms up to 50 ms).  In
    practice the reaper has already reaped every orphan when the inner session's run returns,
    so the first look usually succeeds.
    """
    end = time.monotonic() + timeout
    backoff = 0.001
    while True:
        now = process_start(pid)
        if now is None or (start is not None and now != start):
            return True
        remaining = end - time.monotonic()
        if remaining <= 0:
            return False
        select.select([], [], [], min(backoff, remaining))
        backoff = min(backoff * 2, 0.05)


def assert_all_gone(run: InnerRun, *, allow_orphans: bool = False) -> None:
    """Every path and process the inner tests noted is gone; the socket root is empty; the
    session left no orphan processes (unless ``allow_orphans``)."""
    for entry in run.noted("path"):
        assert not os.path.lexists(entry["value"]), f"left behind by {entry['test']}: {entry}"
    for entry in run.noted("pid"):
        assert wait_gone(entry["value"], entry.get("start")), (
            f"process still exists after the run: {entry}"
        )
    if run.sock_root is not None:
        assert sorted(os.listdir(run.sock_root)) == [], "files left in the socket root"
    if not allow_orphans:
        assert run.orphans == [], f"processes outlived the inner session: {run.orphans}"


def linux_only() -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not sys.platform.startswith("linux"),
        reason="needs /proc and prctl(PR_SET_CHILD_SUBREAPER) (Linux)",
    )


def processes_with_environment(name: str, value: str) -> list[int]:
    """Pids of live processes whose environment has ``name=value`` (every descendant of an
    inner session inherits its $UNIXIPC_TEST_LEDGER, however it was orphaned)."""
    needle = f"{name}={value}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found
