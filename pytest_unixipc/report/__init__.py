"""The property report: what each property's test observed, and the platform's limits."""

from pytest_unixipc.report.model import (
    VERDICTS,
    LimitRecord,
    PropertyResult,
    Report,
    TestOutcome,
    platform_info,
    platform_key,
)
from pytest_unixipc.report.record import PropertyRecorder

__all__ = [
    "VERDICTS",
    "LimitRecord",
    "PropertyRecorder",
    "PropertyResult",
    "Report",
    "TestOutcome",
    "platform_info",
    "platform_key",
]
