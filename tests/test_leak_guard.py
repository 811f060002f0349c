"""The leak guard: --unixipc-leak-check, ini unixipc_leak_check and the marker; and the leak
ledger (pytest_unixipc.leaks) it is built on."""

from __future__ import annotations

import os
import re
import socket
import warnings
from pathlib import Path

import pytest
from _inner import InnerRun, add_suite, assert_all_gone, linux_only, run_inner

from pytest_unixipc.leaks import Leaks, Snapshot, describe_fd, list_children, list_fds

LEAKY = ["test_leaks_pipe", "test_leaks_socketpair", "test_leaks_zombie", "test_leaks_file"]


# -- the ledger, in this process ------------------------------------------------------------------


def test_snapshot_sees_new_descriptors_and_not_closed_ones() -> None:
    before = Snapshot.take()
    r, w = os.pipe()
    try:
        leaks = before.leaks_since()
        assert set(leaks.fds) == {r, w}
        assert all(re.fullmatch(r"pipe:\[\d+\]", what) for what in leaks.fds.values())
        assert leaks.children == []
        assert leaks
    finally:
        os.close(r)
        os.close(w)
    assert not before.leaks_since()


def test_snapshot_sees_a_reused_descriptor_number_pointing_elsewhere() -> None:
    r, w = os.pipe()
    before = Snapshot.take()
    os.close(w)
    a, b = socket.socketpair()
    try:
        leaks = before.leaks_since()
        assert w in leaks.fds or a.fileno() in leaks.fds
        assert any(what.startswith("socket:[") for what in leaks.fds.values())
    finally:
        a.close()
        b.close()
        os.close(r)


def test_snapshot_sees_an_unreaped_child() -> None:
    before = Snapshot.take()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, still unreaped
        leaks = before.leaks_since()
        assert leaks.children == [pid]
        assert pid in list_children()
        assert f"pid {pid} zombie (not reaped)" in leaks.describe()
    finally:
        os.waitpid(pid, 0)
    assert pid not in list_children()
    assert not before.leaks_since()


def test_describe_names_everything() -> None:
    leaks = Leaks(fds={9: "pipe:[1]"}, children=[], files=["a.sock", "b"])
    text = leaks.describe()
    assert text.splitlines() == [
        "1 descriptor(s) left open:",
        "  fd 9 -> pipe:[1]",
        "2 file(s) left in the IPC directory:",
        "  a.sock",
        "  b",
    ]
    assert not Leaks()
    assert Leaks().describe() == ""


def test_list_fds_and_describe_fd() -> None:
    r, w = os.pipe()
    try:
        fds = list_fds()
        assert fds[r] == describe_fd(r)
        assert r in fds
        assert w in fds
    finally:
        os.close(r)
        os.close(w)
    assert describe_fd(r) is None


# -- the guard, in inner sessions -----------------------------------------------------------------


def leak_error(run: InnerRun, test: str) -> str:
    """The LeakError text of ``test`` from the inner session's output."""
    lines = run.output.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if f"leak guard: test_leak_suite.py::{test} " in line),
        None,
    )
    assert start is not None, f"no leak error for {test}:\n{run.output}"
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("E  "):
            break
        block.append(line)
    return "\n".join(block)


def assert_only_the_leaked_zombie_outlived(run: InnerRun) -> None:
    zombies = {entry["value"] for entry in run.noted("zombie")}
    assert {orphan["pid"] for orphan in run.orphans} == zombies
    assert all(orphan["ended_by_itself"] for orphan in run.orphans)


@linux_only()
def test_option_fails_each_leak_and_names_it(pytester: pytest.Pytester, ipc_tmp_path: Path) -> None:
    add_suite(pytester, "leak_suite")
    run = run_inner(pytester, "--unixipc-leak-check", sock_root=ipc_tmp_path)
    # Leaks fail at teardown: each leaky test counts as passed (its call) plus an error.
    run.assert_outcomes(passed=6, errors=5)
    errors = sorted(
        line.split("::")[1].split()[0]
        for line in run.output.splitlines()
        if line.startswith("ERROR test_leak_suite.py::")
    )
    assert errors == sorted([*LEAKY, "test_marked_leaks_pipe"])

    (fds,) = (entry["value"] for entry in run.noted("fds"))
    pipe = leak_error(run, "test_leaks_pipe")
    assert "2 descriptor(s) left open:" in pipe
    for fd in fds:
        assert re.search(rf"fd {fd} -> pipe:\[\d+\]", pipe), pipe

    sockets = leak_error(run, "test_leaks_socketpair")
    assert "2 descriptor(s) left open:" in sockets
    assert len(re.findall(r"fd \d+ -> socket:\[\d+\]", sockets)) == 2, sockets

    (zombie,) = (entry["value"] for entry in run.noted("zombie"))
    child = leak_error(run, "test_leaks_zombie")
    assert "1 child process(es) left behind:" in child
    assert f"pid {zombie} zombie (not reaped)" in child

    files = leak_error(run, "test_leaks_file")
    assert "1 file(s) left in the IPC directory:" in files
    assert "left-behind.txt" in files

    assert "test_uses_every_fixture_and_leaks_nothing" not in run.output.split("short test")[-1]
    assert_only_the_leaked_zombie_outlived(run)
    assert_all_gone(run, allow_orphans=True)


@linux_only()
@pytest.mark.parametrize("enable", ["ini", "marker only"])
def test_ini_and_marker(pytester: pytest.Pytester, ipc_tmp_path: Path, enable: str) -> None:
    add_suite(pytester, "leak_suite")
    if enable == "ini":
        pytester.makeini("[pytest]\nunixipc_leak_check = true\n")
    run = run_inner(pytester, sock_root=ipc_tmp_path)
    if enable == "ini":
        run.assert_outcomes(passed=6, errors=5)
    else:  # without option or ini only the marked test is guarded
        run.assert_outcomes(passed=6, errors=1)
        assert "ERROR test_leak_suite.py::test_marked_leaks_pipe" in run.output
    assert "leak guard: test_leak_suite.py::test_marked_leaks_pipe left resources" in run.output
    assert_only_the_leaked_zombie_outlived(run)
    assert_all_gone(run, allow_orphans=True)
