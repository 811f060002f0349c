"""Each fixture's behaviour and its cleanup after success, failure and pytest-timeout.

The inner sessions (tests/inner/fixture_suite.py and friends) run in a subprocess under a
child subreaper (tests/_reaper.py), so a process any of them leaves behind is found and
reported; see tests/_inner.py.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from _inner import InnerRun, add_suite, assert_all_gone, linux_only, run_inner

pytestmark = [linux_only()]

#: Tests of fixture_suite.py that take ``ending`` (so run once per pass / fail / hang).
ENDING_TESTS = 13
#: Tests of fixture_suite.py without ``ending`` (one of them an expected failure): deadline,
#: bad input, hypothesis, fd_channel over two kinds, (xfail) fresh path beside a dgram socket.
PLAIN_TESTS = 6


def assert_teardown_only_in_runners(run: InnerRun) -> None:
    """pytest's teardown ran in the pytest process only, never in a forked peer."""
    runners = {entry["value"] for entry in run.noted("runner")}
    teardowns = {entry["value"] for entry in run.noted("teardown")}
    peers = {entry["value"] for entry in run.noted("pid")}
    assert runners, "the inner tests noted nothing"
    assert teardowns <= runners
    assert not teardowns & peers
    assert not {entry["by"] for entry in run.ledger} & peers


def test_fixtures_behave_and_clean_up_after_pass_and_fail(
    pytester: pytest.Pytester, ipc_tmp_path: Path
) -> None:
    add_suite(pytester, "fixture_suite")
    run = run_inner(pytester, "-k", "not hang", sock_root=ipc_tmp_path)
    run.assert_outcomes(passed=ENDING_TESTS + PLAIN_TESTS, failed=ENDING_TESTS)
    failed = [line for line in run.result.outlines if line.startswith("FAILED")]
    assert len(failed) == ENDING_TESTS
    assert all("[fail" in line and "deliberate failure" in line for line in failed), failed
    assert len(run.noted("teardown")) == 2 * ENDING_TESTS + 2  # and fd_channel over two kinds
    assert_teardown_only_in_runners(run)
    assert_all_gone(run)


def test_cleanup_after_pytest_timeout_signal_method(
    pytester: pytest.Pytester, ipc_tmp_path: Path
) -> None:
    add_suite(pytester, "fixture_suite")
    run = run_inner(
        pytester,
        "-k",
        "hang",
        "--timeout=0.25",
        "--timeout-method=signal",
        sock_root=ipc_tmp_path,
    )
    run.assert_outcomes(failed=ENDING_TESTS)
    failed = [line for line in run.result.outlines if line.startswith("FAILED")]
    assert all("Timeout" in line for line in failed), failed
    # Every cleanup_check teardown ran and passed.  (Normally each test reached its hang
    # before the timeout; on a loaded machine the timeout may strike a little earlier, which
    # tests cleanup after a timeout just as well.)
    assert len(run.noted("teardown")) == ENDING_TESTS
    assert run.noted("hanging")
    assert_teardown_only_in_runners(run)
    assert_all_gone(run)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_peer_dies_with_session_killed_by_pytest_timeout_thread_method(
    pytester: pytest.Pytester, ipc_tmp_path: Path, xdist: list[str]
) -> None:
    """The thread method os._exit()s the session: no teardown runs, yet PR_SET_PDEATHSIG
    kills the hanging peer at once, and the reaper finds it already dead."""
    add_suite(pytester, "fixture_suite")
    run = run_inner(
        pytester,
        *xdist,
        "-k",
        "test_forked_peer and hang",
        "--timeout=1",
        "--timeout-method=thread",
        sock_root=ipc_tmp_path,
    )
    assert run.result.ret != 0
    if xdist:  # the worker's stderr (pytest-timeout's message) is not shown by the controller
        assert "crashed while running" in run.output
    else:
        assert "Timeout" in run.output
    assert run.noted("teardown") == []  # the session died without any teardown
    (hanger,) = (entry["value"] for entry in run.noted("hanger"))
    orphans = {orphan["pid"]: orphan for orphan in run.orphans}
    assert set(orphans) == {hanger}, run.orphans
    assert orphans[hanger]["ended_by_itself"], "the peer outlived its session"
    assert orphans[hanger]["signal"] == signal.SIGKILL  # PR_SET_PDEATHSIG
    assert_all_gone(run, allow_orphans=True)


def test_long_basetemp_and_xdist_workers_get_short_unique_dirs(pytester: pytest.Pytester) -> None:
    add_suite(pytester, "xdist_suite")
    prefix = str(pytester.path / "basetemp-")
    basetemp = prefix + "b" * (150 - len(prefix))
    assert len(basetemp) == 150
    run = run_inner(pytester, "-n", "2", f"--basetemp={basetemp}")  # default socket root
    run.assert_outcomes(passed=7)
    dirs = run.noted("ipc_tmp_path")
    assert len(dirs) == 6
    assert len({entry["value"] for entry in dirs}) == 6, "two tests shared a directory"
    assert {entry["worker"] for entry in dirs} == {"gw0", "gw1"}
    for entry in dirs:
        assert entry["tmp_path"].startswith(basetemp)
        assert Path(entry["value"]).name.startswith(f"uxipc-{entry['worker']}-")
        assert len(os.fsencode(entry["value"])) + 1 + 24 < 104  # fits macOS' sun_path too
    assert_all_gone(run)


def test_handler_exception_fails_the_owning_test(
    pytester: pytest.Pytester, ipc_tmp_path: Path
) -> None:
    add_suite(pytester, "handler_error_suite")
    run = run_inner(pytester, sock_root=ipc_tmp_path)
    # Raised while the test body ran: the test fails with the handler's traceback.  The test
    # failed on its own as well: its report carries the handler's traceback too.  Raised once
    # the body had ended (here: when teardown shut the connection down): an error at teardown.
    run.assert_outcomes(passed=2, failed=2, errors=1)
    # One block per test: the inner run's order is pytest's (or pytest-randomly's) business.
    for block in (
        [
            "*ERROR at teardown of test_handler_raises_after_the_test*",
            "*HandlerError: the server's connection handler failed (1 time(s)); first:",
            "*RuntimeError: boom after the test 9012",
        ],
        [
            "*_ test_handler_raises _*",
            "*HandlerError: the server's connection handler failed (1 time(s)); first:",
            "*Traceback (most recent call last):",
            "*in exploding_handler",
            "*RuntimeError: boom in the handler 5678",
        ],
        [
            "*_ test_handler_raises_and_the_test_fails_too _*",
            "*AssertionError*",
            "*Captured unixipc server handler call*",
            "*RuntimeError: boom in the handler 5678",
        ],
    ):
        run.result.stdout.fnmatch_lines(block)
    assert "def pytest_runtest_makereport" not in run.result.stdout.str()  # no plugin code
    for line in (
        "FAILED test_handler_error_suite.py::test_handler_raises - HandlerError: the*",
        "FAILED test_handler_error_suite.py::test_handler_raises_and_the_test_fails_too*",
        "ERROR test_handler_error_suite.py::test_handler_raises_after_the_test - *",
    ):
        run.result.stdout.fnmatch_lines([line])
    assert_all_gone(run)


def test_socket_root_too_long_for_sun_path_is_a_clear_error(
    pytester: pytest.Pytester, ipc_tmp_path: Path
) -> None:
    pytester.makepyfile(test_root="def test_needs_a_dir(ipc_tmp_path):\n    pass\n")
    root = ipc_tmp_path / ("r" * (110 - len(os.fsencode(ipc_tmp_path))))
    root.mkdir()
    run = run_inner(pytester, sock_root=root)
    run.assert_outcomes(errors=1)
    assert (
        "SunPathTooLong: socket path is 151 bytes but sun_path holds at most 107 "
        "(sizeof(sun_path) = 108 including the NUL on linux)"
    ) in run.output
    assert "Use a shorter directory, e.g. --unixipc-sock-root=/tmp" in run.output
    assert list(root.iterdir()) == []
    root.rmdir()
