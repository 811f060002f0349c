"""The conformance suite's wiring: every test is a property, recorded, and leak-guarded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite is a rootdir-style test directory (no __init__.py): pytest puts this directory on
# sys.path, in the checkout and inside the installed package alike.
from hypothesis_profiles import load_default_profile  # "unixipc-fast" unless chosen otherwise

from pytest_unixipc.creds import FdSet, SocketSet
from pytest_unixipc.report.record import PropertyRecorder


def pytest_configure(config: pytest.Config) -> None:
    load_default_profile(config)


_SUITE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # This hook sees every item of the session, also those outside the suite's directory.
    for item in items:
        if _SUITE in item.path.resolve().parents:
            item.add_marker(pytest.mark.unixipc_leak_check)


@pytest.fixture(autouse=True)
def _record_property(ipc_record: PropertyRecorder) -> PropertyRecorder:
    """Every conformance test records its property (and so carries its ID in its node id)."""
    return ipc_record


@pytest.fixture
def fds() -> Iterator[FdSet]:
    """Descriptors owned by the test (pipes, files, received ones), closed at teardown."""
    with FdSet() as owned:
        yield owned


@pytest.fixture
def socks(ipc_tmp_path: Path) -> Iterator[SocketSet]:
    """Sockets made by the test; closed, and their socket files unlinked, at teardown (before
    the leak guard looks into ``ipc_tmp_path``)."""
    with SocketSet() as made:
        yield made
