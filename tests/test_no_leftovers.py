"""A whole run of the plugin's fixture suites leaves no process, directory or file behind.

One inner session under pytest-xdist (-n 2) runs every inner suite that should end clean:
each fixture ending by passing, failing and hanging until pytest-timeout (signal method)
ends it, a server handler that raises, and forked peers inside workers.  Afterwards:

* the inner socket root (a private directory of this test) is empty, and every path the inner
  tests noted is gone, so nothing was left in /tmp/uxipc-* either;
* every process the inner tests noted is gone, the child subreaper the session ran under
  found no orphan, and no live process carries the session's environment.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _inner import add_suite, assert_all_gone, linux_only, processes_with_environment, run_inner

pytestmark = [linux_only()]


def test_whole_run_under_xdist_leaves_nothing(
    pytester: pytest.Pytester, ipc_tmp_path: Path
) -> None:
    add_suite(pytester, "fixture_suite", "handler_error_suite", "xdist_suite")
    run = run_inner(
        pytester,
        "-n",
        "2",
        sock_root=ipc_tmp_path,
        extra_env={"UNIXIPC_HANG_TIMEOUT": "0.25"},
    )
    # fixture_suite: 13 tests x (pass, fail, hang) + 6 plain; handler suite: 2 passed, 2
    # failed and a teardown error; xdist suite: 7 passed.
    run.assert_outcomes(passed=13 + 6 + 2 + 7, failed=2 * 13 + 2, errors=1)
    timeouts = [line for line in run.output.splitlines() if "Timeout (>0.25s)" in line]
    assert len([line for line in timeouts if line.startswith("FAILED")]) == 13
    for entry in run.noted("ipc_tmp_path"):  # made by an xdist worker, named after it
        assert entry["worker"] in ("gw0", "gw1")
        assert Path(entry["value"]).name.startswith(f"uxipc-{entry['worker']}-")
    for entry in run.noted("path"):
        assert entry["value"].startswith(f"{ipc_tmp_path}/"), entry
    assert_all_gone(run)
    ledger = str(pytester.path / "ledger.jsonl")
    assert processes_with_environment("UNIXIPC_TEST_LEDGER", ledger) == []
