"""Inner suite: property tests with every verdict, a limit, and a test that is no property."""

from __future__ import annotations

import pytest


@pytest.mark.ipc_property("demo.pass", ref="unix(7)")
def test_passes(ipc_record):
    ipc_record.observe("answer", 42)
    ipc_record.limit("demo limit", 4096, "bytes")


@pytest.mark.ipc_property("demo.variant", ref="socket(2)")
def test_variant(ipc_record):
    ipc_record.expect("B", portable="A", linux="B", darwin="B", freebsd="B")


@pytest.mark.ipc_property("demo.unverified", ref="bind(2)")
def test_unverified(ipc_record):
    ipc_record.expect("C", portable="A")


@pytest.mark.ipc_property("demo.fails", ref="pipe(7)")
def test_fails(ipc_record):
    ipc_record.expect(
        "observed-x", linux="documented-y", darwin="documented-y", freebsd="documented-y"
    )


@pytest.mark.ipc_property("demo.skipped", ref="unix(7)")
def test_skipped(ipc_record):
    pytest.skip("needs root: demo")


@pytest.mark.ipc_property("other.kinds", ref="unix(7)")
@pytest.mark.parametrize("kind", ["stream", "dgram"])
def test_over_kinds(ipc_record, kind):
    ipc_record.observe(f"{kind} ok", True)


def test_not_a_property():
    pass
