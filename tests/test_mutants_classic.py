"""The classic-IPC properties can fail: each runs against a deliberately broken stand-in.

For each mutant a pytester directory gets a copy of the conformance module and a conftest.py
that breaks one mechanism at import time (before the module imports it): os.pipe() returning
a socketpair, a message queue that ignores priorities, msgrcv() ignoring the sign of msgtyp,
a "shared" mapping that is really MAP_PRIVATE, sem_timedwait() that never waits. The named
properties must fail there, and pass in the same directory without the conftest (control).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"

PIPE_IS_SOCKETPAIR = """
import os, socket

def _socketpair_pipe():
    a, b = socket.socketpair()
    return a.detach(), b.detach()

os.pipe = _socketpair_pipe
"""

MQ_IGNORES_PRIORITY = """
from pytest_unixipc import posix_ipc

_send = posix_ipc.MessageQueue.send

def send(self, data, prio=0, timeout=None):
    return _send(self, data, 0, timeout)

posix_ipc.MessageQueue.send = send
"""

MSGRCV_IGNORES_SIGN = """
from pytest_unixipc import posix_ipc

_msgrcv = posix_ipc.msgrcv

def msgrcv(msqid, bufsize, mtype=0, flags=0):
    return _msgrcv(msqid, bufsize, abs(mtype), flags)

posix_ipc.msgrcv = msgrcv
"""

MAPPING_IS_PRIVATE = """
import contextlib, mmap
from pytest_unixipc import classic

@contextlib.contextmanager
def private_mapping(size=mmap.PAGESIZE):
    mapping = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        yield mapping
    finally:
        mapping.close()

classic.shared_anon_mapping = private_mapping
"""

TIMEDWAIT_NEVER_WAITS = """
from pytest_unixipc import posix_ipc

def wait(self, timeout):
    return None

posix_ipc.NamedSemaphore.wait = wait
"""

# (id, conformance module, broken conftest, -k selection, failures, passes, why it fails)
MUTANTS = [
    ("pipe-is-socketpair", "test_pipe.py", PIPE_IS_SOCKETPAIR,
     "test_half_duplex or test_same_inode", 2, 1, "observed 'bidirectional'"),
    ("mq-ignores-priority", "test_mq.py", MQ_IGNORES_PRIORITY, "test_posix_priority", 1, 0,
     "(b'low', 0)"),
    ("msgrcv-ignores-sign", "test_mq.py", MSGRCV_IGNORES_SIGN, "test_sysv_negative_type", 1, 0,
     "No message of desired type"),
    ("mapping-is-private", "test_shm.py", MAPPING_IS_PRIVATE, "test_anon_shared_fork", 1, 0,
     "the child's write did not reach the parent"),
    ("mapping-is-private-mutex", "test_sync.py", MAPPING_IS_PRIVATE, "test_pshared_mutex", 1, 0,
     "'EBUSY'"),
    ("timedwait-never-waits", "test_sync.py", TIMEDWAIT_NEVER_WAITS,
     "test_sem_timedwait_timeout", 1, 0, "'returned' == 'ETIMEDOUT'"),
]  # fmt: skip


def _setup(pytester: pytest.Pytester, module: str) -> None:
    source = (CONFORMANCE / module).read_text()
    pytester.makepyfile(**{module[:-3]: source})


@pytest.mark.parametrize(
    ("module", "conftest", "select", "failed", "passed", "why"),
    [pytest.param(*m[1:], id=m[0]) for m in MUTANTS],
)
def test_property_fails_against_mutant(
    pytester: pytest.Pytester,
    module: str,
    conftest: str,
    select: str,
    failed: int,
    passed: int,
    why: str,
) -> None:
    _setup(pytester, module)
    pytester.makeconftest(conftest)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", select)
    result.assert_outcomes(failed=failed, passed=passed)
    assert why in result.stdout.str(), "the property failed, but not for the mutant's reason"


@pytest.mark.parametrize(
    ("module", "select"),
    [
        pytest.param(mod, sel, id=f"{mod[:-3]}:{sel}")
        for mod, sel in sorted({m[1:4:2] for m in MUTANTS})
    ],
)
def test_same_properties_pass_unbroken(pytester: pytest.Pytester, module: str, select: str) -> None:
    """Control: without the broken conftest the same selection passes in the same setup."""
    _setup(pytester, module)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", select)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1
    assert "failed" not in outcomes, result.stdout.str()
