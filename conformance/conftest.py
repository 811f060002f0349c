"""The conformance suite's wiring: every test is a property, recorded, and leak-guarded."""

from __future__ import annotations

import pytest

from pytest_unixipc.report.record import PropertyRecorder

try:  # the hypothesis settings profiles ("unixipc-fast" by default, "unixipc-thorough")
    from hypothesis_profiles import load_default_profile  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - profiles module not written yet
    load_default_profile = None


def pytest_configure(config: pytest.Config) -> None:
    if load_default_profile is not None:
        load_default_profile(config)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.unixipc_leak_check)


@pytest.fixture(autouse=True)
def _record_property(ipc_record: PropertyRecorder) -> PropertyRecorder:
    """Every conformance test records its property (and so carries its ID in its node id)."""
    return ipc_record
