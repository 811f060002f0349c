"""The report's data model, filled from test reports by node id (so it works under xdist)."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PROPERTY_KEY",
    "RECORD_KEY",
    "VERDICTS",
    "LimitRecord",
    "PropertyResult",
    "Report",
    "TestOutcome",
    "platform_info",
    "platform_key",
]

#: user_properties key carrying {"id", "ref"} of the property a test asserts.
PROPERTY_KEY = "unixipc.property"
#: user_properties key carrying what the test recorded (verdict, expected, observed, limits).
RECORD_KEY = "unixipc.record"

#: Verdicts, worst first.  "variant": the platform's documented behaviour, which differs from
#: the portable expectation; "unverified": no documented expectation for this platform.
VERDICTS: tuple[str, ...] = ("fail", "unverified", "skip", "variant", "pass")


def platform_key() -> str:
    """'linux', 'darwin', 'freebsd', ...: the key of per-platform expectations."""
    for key in ("linux", "darwin", "freebsd", "openbsd", "netbsd"):
        if sys.platform.startswith(key):
            return key
    return sys.platform


def platform_info() -> dict[str, str]:
    uname = platform.uname()
    return {
        "platform": platform_key(),
        "system": uname.system,
        "kernel": uname.release,
        "kernel_version": uname.version,
        "machine": uname.machine,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


def worst(verdicts: list[str]) -> str:
    return min(verdicts, key=VERDICTS.index) if verdicts else "pass"


@dataclass
class LimitRecord:
    name: str
    value: Any
    unit: str
    property: str


@dataclass
class TestOutcome:
    nodeid: str
    verdict: str
    expected: str | None = None
    observed: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    property_id: str = ""

    @property
    def param(self) -> str:
        """The test's parameters: the node id's [...] part without the leading property ID."""
        if not self.nodeid.endswith("]") or "[" not in self.nodeid:
            return self.nodeid.rsplit("::", 1)[-1]
        params = self.nodeid[self.nodeid.index("[") + 1 : -1]
        prefix = f"{self.property_id}-"
        if self.property_id and params.startswith(prefix):
            return params[len(prefix) :]
        return params


@dataclass
class PropertyResult:
    id: str
    reference: str
    tests: list[TestOutcome] = field(default_factory=list)

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def verdict(self) -> str:
        return worst([t.verdict for t in self.tests])

    @property
    def expected(self) -> str | None:
        """The documented behaviour; per parameter ("kind: value; ...") when they differ."""
        values = {t.param: t.expected for t in self.tests if t.expected is not None}
        if len(set(values.values())) <= 1:
            return next(iter(values.values()), None)
        return "; ".join(f"{param}: {value}" for param, value in values.items())

    @property
    def observed(self) -> dict[str, Any]:
        """What the tests saw: merged, or keyed by parameter when parameters disagree."""
        merged: dict[str, Any] = {}
        for test in self.tests:
            for key, value in test.observed.items():
                if key in merged and merged[key] != value:
                    return {t.param: t.observed for t in self.tests if t.observed}
                merged[key] = value
        return merged

    @property
    def message(self) -> str:
        return next((t.message for t in self.tests if t.message), "")


@dataclass
class _Pending:
    prop: dict[str, str]
    record: dict[str, Any]
    outcome: str = "passed"
    message: str = ""


class Report:
    """Collects per-test reports into per-property results and measured limits."""

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}
        self.properties: dict[str, PropertyResult] = {}
        self.limits: dict[str, LimitRecord] = {}
        self.platform = platform_info()

    def __bool__(self) -> bool:
        return bool(self.properties or self._pending)

    def add_phase(
        self,
        nodeid: str,
        when: str,
        outcome: str,
        user_properties: list[tuple[str, object]],
        message: str = "",
    ) -> None:
        """Feed one phase (setup/call/teardown) of one test's report."""
        props = dict(user_properties)
        prop = props.get(PROPERTY_KEY)
        if prop is None:
            return
        pending = self._pending.get(nodeid)
        if pending is None:
            pending = self._pending[nodeid] = _Pending(prop=_load(prop), record={})
        if RECORD_KEY in props:
            pending.record = _load(props[RECORD_KEY])
        if outcome == "failed" and pending.outcome != "failed":
            pending.outcome, pending.message = "failed", f"{when}: {message}".strip()
        elif outcome == "skipped" and pending.outcome == "passed":
            pending.outcome, pending.message = "skipped", message
        if when == "teardown":
            self._finish(nodeid)

    def _finish(self, nodeid: str) -> None:
        pending = self._pending.pop(nodeid)
        record = pending.record
        if pending.outcome == "failed":
            verdict = "fail"
        elif pending.outcome == "skipped":
            verdict = "skip"
        else:
            verdict = record.get("verdict", "pass")
        prop_id = pending.prop["id"]
        result = self.properties.setdefault(
            prop_id, PropertyResult(id=prop_id, reference=pending.prop.get("ref", ""))
        )
        result.tests.append(
            TestOutcome(
                nodeid=nodeid,
                property_id=prop_id,
                verdict=verdict,
                expected=record.get("expected"),
                observed=dict(record.get("observed", {})),
                message=pending.message or record.get("note", ""),
            )
        )
        # By node id, not by when they ran: the same report for serial, -n 2 and shuffled runs.
        result.tests.sort(key=lambda test: test.nodeid)
        for limit in record.get("limits", []):
            self.limits[limit["name"]] = LimitRecord(
                limit["name"], limit["value"], limit.get("unit", ""), prop_id
            )

    def finish_all(self) -> None:
        """Close tests whose teardown report never came (a crashed xdist worker)."""
        for nodeid in list(self._pending):
            pending = self._pending[nodeid]
            if pending.outcome == "passed":
                pending.outcome, pending.message = "failed", "the test did not finish"
            self._finish(nodeid)

    def by_area(self) -> dict[str, list[PropertyResult]]:
        areas: dict[str, list[PropertyResult]] = {}
        for prop_id in sorted(self.properties):
            result = self.properties[prop_id]
            areas.setdefault(result.area, []).append(result)
        return areas

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(VERDICTS, 0)
        for result in self.properties.values():
            counts[result.verdict] += 1
        return counts

    @property
    def failed(self) -> bool:
        return any(r.verdict == "fail" for r in self.properties.values())


def _load(value: object) -> dict[str, Any]:
    if isinstance(value, str):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return dict(value) if isinstance(value, dict) else {}
