"""The classic IPC fixtures clean up after passing and failing tests, and document themselves.

Each pytester session runs one passing and one failing test per fixture; a recorder plugin
hands the objects out, and afterwards nothing may be left: no /dev/shm names, no POSIX queue
names, no System V ids, no open mappings.
"""

from __future__ import annotations

import os
import sys

import pytest

from pytest_unixipc import posix_ipc as px
from pytest_unixipc.classic import mqueue_unavailable, outcome, sysv_unavailable

pytest_plugins = ["pytester"]

FIXTURE_PLUGIN = "pytest_unixipc.classic_fixtures"

INNER_TESTS = """
import mmap
import os
import pytest

FAIL = pytest.mark.parametrize("fail", [False, True], ids=["passes", "fails"])


@FAIL
def test_mapping(shared_anon_mapping, note, fail):
    note(("mapping", shared_anon_mapping))
    shared_anon_mapping[:2] = b"ok"
    assert not fail


@FAIL
def test_shm(posix_shm, note, fail):
    note(("shm", posix_shm.name))
    assert os.fstat(posix_shm.fd).st_size == 0
    assert not fail


@FAIL
def test_semaphore(named_semaphore, note, fail):
    note(("sem", named_semaphore.name))
    named_semaphore.post()
    assert not fail


@FAIL
def test_mqueue(posix_mqueue, note, fail):
    note(("mq", posix_mqueue.name))
    posix_mqueue.send(b"left in the queue")
    assert not fail


@FAIL
def test_sysv(sysv_msgqueue, note, fail):
    note(("sysv", sysv_msgqueue.id))
    sysv_msgqueue.send(1, b"left in the queue")
    assert not fail
"""


class _Recorder:
    """A plugin object: the ``note`` fixture collects what the inner tests were given."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    @pytest.fixture
    def note(self):  # type: ignore[no-untyped-def]
        return self.seen.append


def _dev_shm() -> set[str]:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def _is_gone(kind: str, value: object) -> bool:
    if kind == "mapping":
        return bool(value.closed)  # type: ignore[attr-defined]
    if kind == "shm":
        return outcome(px.shm_open, str(value), os.O_RDONLY) == "ENOENT"
    if kind == "sem":
        return outcome(px.NamedSemaphore, str(value)) == "ENOENT"
    if kind == "mq":
        return outcome(px.MessageQueue, str(value), os.O_RDONLY) == "ENOENT"
    assert kind == "sysv"
    return outcome(px.msgsnd, int(value), 1, b"x", px.IPC_NOWAIT) in ("EINVAL", "EIDRM")  # type: ignore[call-overload]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="checks /dev/shm (Linux)")
def test_fixtures_clean_up_after_pass_and_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER_TESTS)
    before = _dev_shm()
    recorder = _Recorder()
    result = pytester.runpytest("-p", FIXTURE_PLUGIN, "-p", "no:cacheprovider", plugins=[recorder])
    kinds = 5 - (mqueue_unavailable() is not None) - (sysv_unavailable() is not None)
    result.assert_outcomes(passed=kinds, failed=kinds, skipped=2 * (5 - kinds))
    assert len(recorder.seen) == 2 * kinds
    left = [(kind, value) for kind, value in recorder.seen if not _is_gone(kind, value)]
    assert not left, f"fixtures left these behind: {left}"
    assert _dev_shm() <= before, f"new files in /dev/shm: {sorted(_dev_shm() - before)}"


def test_names_are_unique_per_worker_and_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_names="""
        import os
        def test_names(posix_shm, named_semaphore):
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            for name in (posix_shm.name, named_semaphore.name):
                assert name.startswith(f"/uxipc-{worker}-{os.getpid()}-"), name
            assert posix_shm.name != named_semaphore.name
        """
    )
    result = pytester.runpytest("-p", FIXTURE_PLUGIN, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    """``pytest --fixtures -v`` shows each fixture with its docstring, including the context
    manager to use under hypothesis."""
    result = pytester.runpytest("--fixtures", "-v", "-p", FIXTURE_PLUGIN, "-p", "no:cacheprovider")
    out = " ".join(result.stdout.str().split())  # docstrings wrap anywhere
    for name, first_line in [
        ("shared_anon_mapping", "A zero-filled MAP_SHARED|MAP_ANONYMOUS"),
        ("posix_shm", "A new POSIX shared memory object"),
        ("named_semaphore", "A new named POSIX semaphore"),
        ("posix_mqueue", "A new POSIX message queue"),
        ("sysv_msgqueue", "A new IPC_PRIVATE System V message queue"),
    ]:
        assert name in out, f"{name} missing from pytest --fixtures"
        assert first_line in out, f"{name}'s docstring is not shown"
    assert out.count("Under hypothesis use ``pytest_unixipc.") == 5
