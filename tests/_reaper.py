"""Run a command as the child of a child subreaper, then reap and report every orphan it left.

Usage: ``python _reaper.py REPORT.json GRACE_SECONDS -- COMMAND...``

The outer plugin tests run each inner pytest session through this script.  It marks itself a
child subreaper (prctl(2) ``PR_SET_CHILD_SUBREAPER``, Linux >= 3.4), so every process the
inner session leaves behind -- a forked peer its teardown did not reap, a grandchild, a peer
orphaned when pytest-timeout's thread method ``os._exit``-ed the session -- is reparented to
this script instead of to init (which, in containers, often never reaps).  After the command
exits the script waits up to GRACE_SECONDS for each orphan to end on its own (a pidfd, so the
wait is an event), SIGKILLs those still running, reaps them all and writes what it found to
REPORT.json: ``{"returncode": int, "orphans": [{"pid", "cmdline", "ended_by_itself",
"signal", "exitcode", "seconds"}]}``.  Its exit status is the command's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any

_PR_SET_CHILD_SUBREAPER = 36


def _children() -> list[int]:
    found: list[int] = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as handle:
                found += [int(pid) for pid in handle.read().split()]
        except OSError:
            continue
    return sorted(set(found))


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _wait_exit(pid: int, timeout: float) -> bool:
    """Wait (on a pidfd) up to ``timeout`` s for ``pid`` to exit; True if it did."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([pidfd], [], [], timeout)[0])
    finally:
        os.close(pidfd)


def _reap_orphans(grace: float, since: float) -> list[dict[str, Any]]:
    orphans: list[dict[str, Any]] = []
    deadline = time.monotonic() + grace
    while True:
        pids = _children()
        if not pids:
            return orphans
        for pid in pids:
            cmdline = _cmdline(pid)
            ended = _wait_exit(pid, max(0.0, deadline - time.monotonic()))
            if not ended:
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            orphans.append(
                {
                    "pid": pid,
                    "cmdline": cmdline,
                    "ended_by_itself": ended,
                    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                    "exitcode": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                    "seconds": round(time.monotonic() - since, 3),
                }
            )


def main(argv: list[str]) -> int:
    report, grace, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit(__doc__)
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(errno)}")
    returncode = subprocess.call(command)
    orphans = _reap_orphans(float(grace), time.monotonic())
    with open(report, "w", encoding="utf-8") as handle:
        json.dump({"returncode": returncode, "orphans": orphans}, handle)
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
