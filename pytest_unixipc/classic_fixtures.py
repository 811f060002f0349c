"""Fixtures for the classic IPC mechanisms: thin wrappers over :mod:`pytest_unixipc.classic`.

Each fixture is function-scoped and gives a fresh object whose name is unique per test and
pytest-xdist worker. Teardown removes it even when the test failed. Under hypothesis
(``@given``), a function-scoped fixture is shared by every example, so use the context manager
of the same name from ``pytest_unixipc`` inside the test body instead.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator

import pytest

from pytest_unixipc import classic
from pytest_unixipc.classic import PosixShm, SysVMessageQueue
from pytest_unixipc.posix_ipc import MessageQueue, NamedSemaphore

__all__ = ["named_semaphore", "posix_mqueue", "posix_shm", "shared_anon_mapping", "sysv_msgqueue"]


@pytest.fixture
def shared_anon_mapping(request: pytest.FixtureRequest) -> Iterator[mmap.mmap]:
    """A zero-filled MAP_SHARED|MAP_ANONYMOUS ``mmap.mmap`` that forked children share.

    One page by default; indirect parametrization sets the size in bytes. Unmapped at
    teardown. Under hypothesis use ``pytest_unixipc.shared_anon_mapping(size)``.
    """
    size = int(getattr(request, "param", mmap.PAGESIZE))
    with classic.shared_anon_mapping(size) as mapping:
        yield mapping


@pytest.fixture
def posix_shm(request: pytest.FixtureRequest) -> Iterator[PosixShm]:
    """A new POSIX shared memory object (shm_open(3)): ``.name``, ``.fd``, ``.size``,
    ``.resize(n)``, ``.map()``.

    Size 0 by default; indirect parametrization sets the size. At teardown the descriptor is
    closed and the name shm_unlink()ed, even if the test failed: nothing is left in /dev/shm.
    Under hypothesis use ``pytest_unixipc.posix_shm(size)``.
    """
    size = int(getattr(request, "param", 0))
    with classic.posix_shm(size) as shm:
        yield shm


@pytest.fixture
def named_semaphore(request: pytest.FixtureRequest) -> Iterator[NamedSemaphore]:
    """A new named POSIX semaphore (sem_open(3)): ``.name``, ``.post()``, ``.wait(timeout)``,
    ``.trywait()``, ``.value``.

    Initial value 0; indirect parametrization sets it. At teardown it is closed and
    sem_unlink()ed, even if the test failed: no /dev/shm/sem.* is left. Under hypothesis use
    ``pytest_unixipc.named_semaphore(value)``.
    """
    value = int(getattr(request, "param", 0))
    with classic.named_semaphore(value) as sem:
        yield sem


@pytest.fixture
def posix_mqueue(request: pytest.FixtureRequest) -> Iterator[MessageQueue]:
    """A new POSIX message queue (mq_open(3), O_RDWR): ``.name``, ``.send(data, prio)``,
    ``.receive()`` -> (data, prio), ``.getattr()``, ``.notify(signo)``.

    System default attributes; indirect parametrization with a dict sets ``maxmsg`` and
    ``msgsize``. Skips where the platform has no POSIX message queues (macOS; ENOSYS). At
    teardown it is closed and mq_unlink()ed, even if the test failed. Under hypothesis use
    ``pytest_unixipc.posix_mqueue(maxmsg=..., msgsize=...)``.
    """
    why = classic.mqueue_unavailable()
    if why is not None:
        pytest.skip(why)
    attrs = dict(getattr(request, "param", {}))
    with classic.posix_mqueue(**attrs) as queue:
        yield queue


@pytest.fixture
def sysv_msgqueue() -> Iterator[SysVMessageQueue]:
    """A new IPC_PRIVATE System V message queue (msgget(2)): ``.id``, ``.send(type, data)``,
    ``.receive(bufsize, type, flags)`` -> (type, data).

    Removed with IPC_RMID at teardown, even if the test failed: ``ipcs -q`` shows nothing
    left. Under hypothesis use ``pytest_unixipc.sysv_msgqueue()``.
    """
    why = classic.sysv_unavailable()
    if why is not None:
        pytest.skip(why)
    with classic.sysv_msgqueue() as queue:
        yield queue
