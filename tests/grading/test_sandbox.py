"""The sandbox on its own: limits, captured output, signals, and nothing left behind."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_unixipc import ipc_tmp_dir
from pytest_unixipc.grading.sandbox import (
    MARKER_ENV,
    Limits,
    find_marked_processes,
    run_program,
)

LIMITS = Limits(wall_seconds=5.0, term_grace=0.2)


@pytest.fixture
def workdir() -> Iterator[Path]:
    with ipc_tmp_dir() as path:
        path.chmod(0o755)
        yield path


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


@pytest.fixture
def tag() -> str:
    """A sandbox tag of this test alone: find_marked_processes() matches by prefix, and other
    test sessions (tox -p, xdist) may be grading at the same time."""
    return f"t{secrets.token_hex(4)}"


def test_limits_are_set(workdir: Path) -> None:
    limits = dataclasses.replace(LIMITS, open_files=33, cpu_seconds=7)
    with run_program(sh("ulimit -n; ulimit -t; ulimit -c"), workdir, limits) as proc:
        assert proc.wait(5) == 0
        assert proc.stdout.split() == [b"33", b"7", b"0"]


def test_environment_is_small_and_marked(workdir: Path, tag: str) -> None:
    with run_program(["/usr/bin/env"], workdir, LIMITS, sandbox_tag=tag) as proc:
        assert proc.wait(5) == 0
        env = dict(line.split("=", 1) for line in proc.stdout.decode().splitlines())
    assert env[MARKER_ENV].startswith(f"{tag}.")
    assert env["HOME"] == str(workdir)
    assert "PYTEST_CURRENT_TEST" not in env


def test_sigpipe_is_default_in_the_program(workdir: Path) -> None:
    """Python ignores SIGPIPE; the program must not inherit that (signal(7), execve(2))."""
    with run_program(sh("grep SigIgn /proc/$$/status"), workdir, LIMITS) as proc:
        assert proc.wait(5) == 0
        ignored = int(proc.stdout.split()[1], 16)
        assert not ignored & (1 << (13 - 1)), "SIGPIPE is ignored in the program"


def test_signal_is_reported(workdir: Path) -> None:
    with run_program(sh("kill -PIPE $$"), workdir, LIMITS) as proc:
        proc.wait(5)
        assert proc.signal == "SIGPIPE"
        assert proc.status() == "was killed by SIGPIPE"


def test_output_is_capped(workdir: Path) -> None:
    limits = dataclasses.replace(LIMITS, output_cap=10_000)
    script = (
        "head -c 3000000 /dev/zero; "
        "i=0; while [ $i -lt 200 ]; do echo line $i >&2; i=$((i+1)); done"
    )
    with run_program(sh(script), workdir, limits) as proc:
        assert proc.wait(5) == 0
        assert len(proc.stdout) == 10_000
        assert proc.stdout_total == 3_000_000
        assert proc.stdout_truncated
        assert len(proc.stderr) <= 10_000
        assert proc.stderr_tail[-1] == "line 199"
        assert len(proc.stderr_tail) == limits.stderr_lines


def test_daemons_and_children_are_killed(workdir: Path, tag: str) -> None:
    """A setsid daemon that ignores SIGTERM, and plain children, are all killed and reaped."""
    script = (
        "(setsid sh -c 'trap \"\" TERM; exec sleep 1000' &); "
        "sleep 1000 & sleep 1000 & trap '' TERM; echo ready; wait"
    )
    with run_program(sh(script), workdir, LIMITS, sandbox_tag=tag) as proc:
        assert proc.wait_for_lines(1, 5)
        assert len(proc.processes()) >= 3
    assert proc.survivors == []
    assert find_marked_processes(tag) == []


def test_fork_bomb_is_contained(workdir: Path, tag: str) -> None:
    limits = dataclasses.replace(LIMITS, processes=20)
    script = "i=0; while [ $i -lt 100 ]; do sleep 1000 & i=$((i+1)); done; echo done; wait"
    with run_program(sh(script), workdir, limits, sandbox_tag=tag) as proc:
        # The shell may retry failed forks for a while: look after at most 3 s.
        proc.wait_for_lines(1, 3)
        if proc.cgroups or os.geteuid() != 0:
            # pids.max (cgroup) or RLIMIT_NPROC (non-root) stopped the forks.
            assert len(proc.processes()) <= 20 + 1
    assert find_marked_processes(tag) == []


def test_wait_is_bounded(workdir: Path) -> None:
    with run_program(["/bin/sleep", "30"], workdir, LIMITS) as proc:
        assert proc.wait(0.1) is None
        assert proc.status() == "was still running"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: setuid to nobody")
def test_runs_as_another_user(workdir: Path) -> None:
    with run_program(["/usr/bin/id", "-u"], workdir, LIMITS, user="nobody") as proc:
        assert proc.wait(5) == 0
        assert proc.stdout.strip() == b"65534"


def test_watchdog_kills_at_the_wall_clock_limit(workdir: Path, tag: str) -> None:
    limits = dataclasses.replace(LIMITS, wall_seconds=0.5)
    with run_program(sh("trap '' TERM; sleep 30 & wait"), workdir, limits, sandbox_tag=tag) as proc:
        # Wait on the program (bounded): the watchdog ends it after 0.5 s + its slack.
        code = proc.wait(10)
        assert code is not None
        assert proc.wall_killed
        assert "wall-clock limit" in proc.status()
    assert find_marked_processes(tag) == []
