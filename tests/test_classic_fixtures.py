"""The classic IPC fixtures clean up after passing and failing tests, and document themselves.

Each pytester session runs one passing and one failing test per fixture; a recorder plugin
hands the objects out, and afterwards nothing may be left: no /dev/shm names, no POSIX queue
names, no System V ids, no open mappings.
"""

from __future__ import annotations

import errno
import os
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_unixipc import classic
from pytest_unixipc import posix_ipc as px
from pytest_unixipc.classic import mqueue_unavailable, outcome, sysv_unavailable

pytest_plugins = ["pytester"]


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
    """Is the object a fixture handed out really gone (its name or id no longer opens)?"""
    if kind == "mapping":
        return bool(value.closed)  # type: ignore[attr-defined]
    if kind == "sysv":
        return outcome(px.msgsnd, value, 1, b"x", px.IPC_NOWAIT) in ("EINVAL", "EIDRM")
    try:
        if kind == "shm":
            os.close(px.shm_open(str(value), os.O_RDONLY))
        elif kind == "sem":
            px.NamedSemaphore(str(value)).close()
        else:
            assert kind == "mq"
            px.MessageQueue(str(value), os.O_RDONLY).close()
    except FileNotFoundError:
        return True
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="checks /dev/shm (Linux)")
def test_fixtures_clean_up_after_pass_and_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER_TESTS)
    before = _dev_shm()
    recorder = _Recorder()
    result = pytester.runpytest("-p", "no:cacheprovider", plugins=[recorder])
    kinds = 5 - (mqueue_unavailable() is not None) - (sysv_unavailable() is not None)
    result.assert_outcomes(passed=kinds, failed=kinds, skipped=2 * (5 - kinds))
    assert len(recorder.seen) == 2 * kinds
    left = [(kind, value) for kind, value in recorder.seen if not _is_gone(kind, value)]
    assert not left, f"fixtures left these behind: {left}"
    # Names carry the creating pid (the inner run is in this process): other sessions running
    # at the same time (xdist workers, tox -p) have /dev/shm files of their own.
    ours = sorted(name for name in _dev_shm() - before if f"-{os.getpid()}-" in name)
    assert not ours, f"new files in /dev/shm: {ours}"


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
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    """``pytest --fixtures -v`` shows each fixture with its docstring, including the context
    manager to use under hypothesis."""
    result = pytester.runpytest("--fixtures", "-v", "-p", "no:cacheprovider")
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


# -- the context managers behind the fixtures ------------------------------------------------


def _enter_and_fail(make, holder: list[object]) -> None:  # type: ignore[no-untyped-def]
    with make() as obj:
        holder.append(obj)
        raise RuntimeError("body failed")


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("shm", lambda: classic.posix_shm(4096)),
        ("sem", lambda: classic.named_semaphore(1)),
        ("mq", lambda: classic.posix_mqueue(maxmsg=2, msgsize=16)),
        ("sysv", classic.sysv_msgqueue),
    ],
    ids=["posix_shm", "named_semaphore", "posix_mqueue", "sysv_msgqueue"],
)
def test_context_managers_remove_names_when_the_body_raises(kind: str, make) -> None:  # type: ignore[no-untyped-def]
    if kind == "mq" and mqueue_unavailable() is not None:
        pytest.skip(str(mqueue_unavailable()))
    if kind == "sysv" and sysv_unavailable() is not None:
        pytest.skip(str(sysv_unavailable()))
    holder: list[object] = []
    with pytest.raises(RuntimeError, match="body failed"):
        _enter_and_fail(make, holder)
    handle = holder[0]
    value = handle.id if kind == "sysv" else handle.name  # type: ignore[attr-defined]
    assert _is_gone(kind, value), f"{kind} {value} survived an exception in the body"


@settings(max_examples=25, deadline=None)
@given(value=st.integers(min_value=0, max_value=1000), posts=st.integers(0, 5))
def test_named_semaphore_under_hypothesis(value: int, posts: int) -> None:
    """Under @given use the context manager: a fresh semaphore per example."""
    with classic.named_semaphore(value) as sem:
        for _ in range(posts):
            sem.post()
        assert sem.value == value + posts
        name = sem.name
    assert _is_gone("sem", name)


def test_missing_c_function_is_unsupported() -> None:
    """A call the C library lacks raises Unsupported (ENOSYS), which callers report."""
    with pytest.raises(px.Unsupported) as info:
        px._fn("uxipc_no_such_function", None, ())
    assert info.value.errno == errno.ENOSYS
    assert "uxipc_no_such_function" in str(info.value)


def test_errors_map_to_python_exception_classes() -> None:
    """errno values come back as the matching OSError subclasses."""
    with pytest.raises(FileNotFoundError):
        px.shm_open(classic.unique_name(), os.O_RDWR)
    with classic.named_semaphore(0) as sem:
        with pytest.raises(BlockingIOError):
            sem.trywait()
        with pytest.raises(TimeoutError):
            sem.wait(0.01)
