"""Turn a :class:`~pytest_unixipc.report.model.Report` into text, Markdown or JSON."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pytest_unixipc.report.model import VERDICTS, PropertyResult, Report

__all__ = [
    "REPORT_SUFFIXES",
    "SCHEMA",
    "render_json",
    "render_markdown",
    "render_text",
    "write_report",
]

#: Identifier of the JSON report's schema; bumped on any incompatible change.
SCHEMA = "pytest-unixipc/conformance-report/1"
REPORT_SUFFIXES = (".md", ".json")

_LABEL = {
    "pass": "pass",
    "fail": "FAIL",
    "variant": "variant",
    "unverified": "unverified",
    "skip": "not run",
}


def _detail(result: PropertyResult) -> str:
    observed = result.observed
    parts = []
    if result.verdict == "variant" and result.expected is not None:
        parts.append(f"{_platform_word()} behaviour: {result.expected}")
    elif result.verdict == "unverified" and "behaviour" in observed:
        parts.append(f"observed: {observed['behaviour']} (no documented expectation)")
    if result.verdict in ("fail", "skip") and result.message:
        parts.append(result.message.splitlines()[0][:160])
    if result.verdict == "variant" and result.message:
        parts.append(result.message.splitlines()[0][:120])
    return "; ".join(parts)


def _platform_word() -> str:
    import platform

    return platform.system() or "platform"


def _summary_line(report: Report) -> str:
    counts = report.counts()
    shown = [f"{counts[v]} {_LABEL[v]}" for v in reversed(VERDICTS) if counts[v]]
    return f"{len(report.properties)} properties: " + ", ".join(shown)


def _limit_value(value: Any, unit: str) -> str:
    return f"{value} {unit}".strip()


def render_text(report: Report) -> list[str]:
    """Lines for the terminal summary."""
    info = report.platform
    lines = [
        f"platform: {info['system']} {info['kernel']} {info['machine']}, "
        f"{info['implementation']} {info['python']}",
    ]
    width = max((len(p) for p in report.properties), default=20)
    for area, results in report.by_area().items():
        lines.append(f"[{area}]")
        for result in results:
            detail = _detail(result)
            line = f"  {_LABEL[result.verdict]:<10} {result.id:<{width}}"
            lines.append(f"{line}  {detail}".rstrip())
    if report.limits:
        lines.append("measured limits:")
        name_width = max(len(n) for n in report.limits)
        for name in sorted(report.limits):
            limit = report.limits[name]
            lines.append(f"  {name:<{name_width}}  {_limit_value(limit.value, limit.unit)}")
    lines.append(_summary_line(report))
    return lines


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    info = report.platform
    out = [
        "# Unix IPC conformance report",
        "",
        f"- Platform: {info['system']} {info['kernel']} ({info['machine']})",
        f"- Python: {info['implementation']} {info['python']}",
        f"- {_summary_line(report)}",
        "",
    ]
    for area, results in report.by_area().items():
        out += [f"## {area}", "", "| property | verdict | expected | observed | reference |"]
        out.append("|---|---|---|---|---|")
        for r in results:
            observed = ", ".join(f"{k}={v}" for k, v in sorted(r.observed.items()))
            if r.verdict in ("fail", "skip") and r.message:
                observed = (observed + "; " if observed else "") + r.message.splitlines()[0][:200]
            out.append(
                f"| `{r.id}` | {_LABEL[r.verdict]} | {_md_cell(r.expected or '')} | "
                f"{_md_cell(observed)} | {_md_cell(r.reference)} |"
            )
        out.append("")
    if report.limits:
        out += ["## Measured limits", "", "| limit | value | measured by |", "|---|---|---|"]
        for name in sorted(report.limits):
            lim = report.limits[name]
            out.append(
                f"| {_md_cell(name)} | {_limit_value(lim.value, lim.unit)} | `{lim.property}` |"
            )
        out.append("")
    return "\n".join(out)


def render_json(report: Report) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "platform": report.platform,
        "summary": {"total": len(report.properties), **report.counts()},
        "properties": [
            {
                "id": r.id,
                "area": r.area,
                "verdict": r.verdict,
                "expected": r.expected,
                "observed": r.observed,
                "reference": r.reference,
                "message": r.message,
                "tests": [
                    {
                        "nodeid": t.nodeid,
                        "verdict": t.verdict,
                        "expected": t.expected,
                        "observed": t.observed,
                        "message": t.message,
                    }
                    for t in r.tests
                ],
            }
            for r in sorted(report.properties.values(), key=lambda r: r.id)
        ],
        "limits": [
            {"name": lim.name, "value": lim.value, "unit": lim.unit, "property": lim.property}
            for lim in sorted(report.limits.values(), key=lambda lim: lim.name)
        ],
    }


def write_report(report: Report, path: str | os.PathLike[str]) -> None:
    """Write ``report`` to ``path`` (.md or .json), atomically."""
    target = Path(path)
    if target.suffix == ".json":
        text = json.dumps(render_json(report), indent=2, sort_keys=False) + "\n"
    elif target.suffix == ".md":
        text = render_markdown(report)
    else:
        raise ValueError(f"report path must end in .md or .json, not {target.suffix!r}")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
