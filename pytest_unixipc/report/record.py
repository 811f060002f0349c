"""What a property test records while it runs: observations, limits, platform expectations."""

from __future__ import annotations

import json
from typing import Any

from pytest_unixipc.report.model import PROPERTY_KEY, RECORD_KEY, platform_key

__all__ = ["PropertyRecorder"]


class PropertyRecorder:
    """Records into a test's ``user_properties`` (which pytest-xdist carries to the controller).

    ``observe`` notes a fact, ``limit`` a measured limit, and ``expect`` checks a behaviour that
    differs between platforms against the running platform's documented one.
    """

    def __init__(
        self, user_properties: list[tuple[str, object]], prop_id: str | None, ref: str = ""
    ) -> None:
        self.id = prop_id
        self.ref = ref
        self.platform = platform_key()
        self._props = user_properties
        self._record: dict[str, Any] = {"verdict": "pass", "observed": {}, "limits": []}
        if prop_id is not None and not any(k == PROPERTY_KEY for k, _ in user_properties):
            user_properties.append((PROPERTY_KEY, json.dumps({"id": prop_id, "ref": ref})))
        self._flush()

    @property
    def verdict(self) -> str:
        return str(self._record["verdict"])

    def observe(self, key: str, value: Any) -> None:
        """Note an observed fact (JSON-able) for the report."""
        self._record["observed"][key] = _jsonable(value)
        self._flush()

    def limit(self, name: str, value: int | float | str, unit: str = "") -> None:
        """Record a measured limit (e.g. "PIPE_BUF", 4096, "bytes") for the limits table."""
        limits = [lim for lim in self._record["limits"] if lim["name"] != name]
        limits.append({"name": name, "value": value, "unit": unit})
        self._record["limits"] = limits
        self._flush()

    def expect(
        self,
        observed: str,
        *,
        portable: str | None = None,
        linux: str | None = None,
        darwin: str | None = None,
        freebsd: str | None = None,
        note: str = "",
    ) -> None:
        """Check ``observed`` against the running platform's documented behaviour.

        Fails (AssertionError) when the platform documents something else.  The verdict is
        "variant" when the documented behaviour differs from ``portable``, "unverified" when
        this platform documents nothing, else "pass".
        """
        documented = {"linux": linux, "darwin": darwin, "freebsd": freebsd}
        expected = documented.get(self.platform)
        self._record["observed"]["behaviour"] = observed
        if note:
            self._record["note"] = note
        if expected is None:
            self._record["verdict"] = "unverified"
            self._record["expected"] = None
            self._flush()
            return
        self._record["expected"] = expected
        if portable is not None and expected != portable:
            self._record["verdict"] = "variant"
            self._record["note"] = note or f"portable expectation: {portable}"
        self._flush()
        if observed != expected:
            raise AssertionError(
                f"{self.id or 'property'}: {self.platform} documents {expected!r}, "
                f"observed {observed!r}" + (f" ({note})" if note else "")
            )

    def _flush(self) -> None:
        entry = (RECORD_KEY, json.dumps(self._record))
        for index, (key, _) in enumerate(self._props):
            if key == RECORD_KEY:
                self._props[index] = entry
                return
        self._props.append(entry)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value
