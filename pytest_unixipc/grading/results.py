"""Results files for autograders, as pure functions of a list of per-test results.

- Gradescope ``results.json`` (gradescope/autograder_samples ``docs/specs.md``): top-level
  ``score``, ``execution_time`` (a number), ``output``, ``tests`` with ``name`` (beginning with
  the property ID), ``number``, ``score``, ``max_score``, ``status``, ``output``,
  ``visibility``, ``tags``.  Bonus properties get ``max_score`` 0, so passing them adds
  extra points beyond the total.
- PrairieLearn ``results.json`` (PrairieLearn ``docs/externalGrading.md``): ``gradable``,
  ``score`` as a fraction 0..1, ``message``, ``output``, ``tests`` with ``name``,
  ``description``, ``points``, ``max_points``, ``message``, ``output``.
- Autolab's autoresult: one JSON line ``{"scores": {...}, "scoreboard": [...]}`` that must be
  the last line the driver prints (Autolab "Guide for Lab Authors").

Files are written atomically (a temporary file in the same directory, then ``rename(2)``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FORMATS",
    "OUTPUT_CAP",
    "PropertyResult",
    "Totals",
    "autolab",
    "cap_output",
    "gradescope",
    "prairielearn",
    "render",
    "render_text",
    "skeleton",
    "totals",
    "write_atomic",
]

FORMATS = ("gradescope", "prairielearn", "autolab")

#: Every per-test output is capped to this many characters (the end is kept).
OUTPUT_CAP = 4000


@dataclass
class PropertyResult:
    """The outcome of one test (one property) of a grading run, keyed by its node id."""

    nodeid: str
    name: str
    property_id: str | None = None
    description: str = ""
    passed: bool = False
    points: float = 1.0
    bonus: bool = False
    required: bool = False
    #: None when visible, else the Gradescope visibility ("hidden", "after_due_date", ...).
    hidden: str | None = None
    output: str = ""
    duration: float = 0.0
    number: str = ""
    tags: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0

    @property
    def max_score(self) -> float:
        return 0.0 if self.bonus else self.points

    @property
    def title(self) -> str:
        """The name shown to students: the property ID first, then what it checks."""
        head = self.property_id or self.name
        text = f"{head}: {self.description}" if self.description else head
        return f"{text} (bonus)" if self.bonus else text


@dataclass(frozen=True)
class Totals:
    score: float
    max_score: float
    bonus: float
    passed: int
    failed: int
    required_failed: int

    @property
    def all_required_passed(self) -> bool:
        return self.required_failed == 0

    @property
    def fraction(self) -> float:
        if self.max_score <= 0:
            return 1.0 if self.required_failed == 0 else 0.0
        return min(1.0, self.score / self.max_score)


def cap_output(text: str, cap: int = OUTPUT_CAP) -> str:
    """At most ``cap`` characters; the start is kept (it says what failed) and the cut said."""
    text = text.replace("\r\n", "\n")
    if len(text) <= cap:
        return text
    note = f"\n[... output cut: {len(text) - cap} more characters]"
    return text[: cap - len(note)] + note


def totals(results: Sequence[PropertyResult]) -> Totals:
    """Score, maximum, bonus points earned, and how many required (non-bonus) ones failed."""
    score = sum(r.score for r in results if not r.bonus)
    bonus = sum(r.score for r in results if r.bonus)
    return Totals(
        score=score + bonus,
        max_score=sum(r.max_score for r in results),
        bonus=bonus,
        passed=sum(1 for r in results if r.passed),
        failed=sum(1 for r in results if not r.passed),
        required_failed=sum(1 for r in results if not r.passed and not r.bonus),
    )


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


def gradescope(
    results: Sequence[PropertyResult], *, execution_time: float = 0.0, output: str = ""
) -> dict[str, Any]:
    """Gradescope's ``results.json`` as a dict."""
    tot = totals(results)
    tests = []
    for index, r in enumerate(results, 1):
        test: dict[str, Any] = {
            "name": r.title,
            "number": r.number or str(index),
            "score": _num(r.score),
            "max_score": _num(r.max_score),
            "status": "passed" if r.passed else "failed",
            "output": cap_output(r.output),
            "visibility": r.hidden or "visible",
        }
        tags = list(r.tags) + (["bonus"] if r.bonus else []) + (["required"] if r.required else [])
        if tags:
            test["tags"] = tags
        tests.append(test)
    return {
        "score": _num(tot.score),
        "execution_time": round(float(execution_time), 3),
        "output": cap_output(output or _summary(tot)),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def prairielearn(
    results: Sequence[PropertyResult],
    *,
    execution_time: float = 0.0,
    output: str = "",
    gradable: bool = True,
    format_errors: Sequence[str] = (),
) -> dict[str, Any]:
    """PrairieLearn's external grader ``results.json`` as a dict (score is a fraction; bonus
    points can lift it to at most 1.0)."""
    tot = totals(results)
    tests = []
    for r in results:
        hidden = r.hidden is not None
        tests.append(
            {
                "name": r.title,
                "description": r.description,
                "points": _num(r.score),
                "max_points": _num(r.max_score),
                "message": "" if r.passed else ("(details hidden)" if hidden else _first(r.output)),
                "output": "" if hidden else cap_output(r.output),
            }
        )
    doc: dict[str, Any] = {
        "gradable": gradable,
        "score": round(tot.fraction, 6) if gradable else 0.0,
        "message": _summary(tot),
        "output": cap_output(output, 100_000),
        "tests": tests,
        "execution_time": round(float(execution_time), 3),
    }
    if format_errors:
        doc["format_errors"] = list(format_errors)
    return doc


def autolab(results: Sequence[PropertyResult]) -> str:
    """Autolab's autoresult line: scores per property ID (the lab's problem names) and a
    scoreboard of [total, properties passed]."""
    tot = totals(results)
    scores = {(r.property_id or r.name): _num(r.score) for r in results}
    return json.dumps({"scores": scores, "scoreboard": [_num(tot.score), tot.passed]})


def render(
    fmt: str,
    results: Sequence[PropertyResult],
    *,
    execution_time: float = 0.0,
    output: str = "",
    gradable: bool = True,
    format_errors: Sequence[str] = (),
) -> str:
    """The results file's text in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "gradescope":
        doc = gradescope(results, execution_time=execution_time, output=output)
    elif fmt == "prairielearn":
        doc = prairielearn(
            results,
            execution_time=execution_time,
            output=output,
            gradable=gradable,
            format_errors=format_errors,
        )
    elif fmt == "autolab":
        return autolab(results) + "\n"
    else:
        raise ValueError(f"unknown results format {fmt!r} (formats: {', '.join(FORMATS)})")
    return json.dumps(doc, indent=2) + "\n"


def skeleton(fmt: str, message: str, results: Sequence[PropertyResult] = ()) -> str:
    """A valid results file for a run that has not finished (or could not start): score 0,
    ``message`` as the overall output, and ``results`` (normally all failed) if known."""
    return render(
        fmt,
        results,
        output=message,
        gradable=not (fmt == "prairielearn" and not results),
        format_errors=[message] if fmt == "prairielearn" and not results else (),
    )


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file beside it, then rename(2)."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _first(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def _summary(tot: Totals) -> str:
    verdict = (
        "all required properties passed"
        if tot.all_required_passed
        else f"{tot.required_failed} required propert{'y' if tot.required_failed == 1 else 'ies'}"
        " failed"
    )
    bonus = f" (including {_num(tot.bonus)} bonus)" if tot.bonus else ""
    return f"Score: {_num(tot.score)}/{_num(tot.max_score)}{bonus}; {verdict}."


def render_text(results: Iterable[PropertyResult], *, header: str = "") -> list[str]:
    """A readable per-property report with the score, for a terminal."""
    rows = list(results)
    lines = [header] if header else []
    width = max((len(r.property_id or r.name) for r in rows), default=10)
    for r in rows:
        verdict = "PASS" if r.passed else "FAIL"
        score = f"{_num(r.score)}/{_num(r.max_score)}" if not r.bonus else f"+{_num(r.score)}"
        flags = " (bonus)" if r.bonus else ""
        flags += " [hidden]" if r.hidden else ""
        flags += " [required]" if r.required else ""
        ident = r.property_id or r.name
        lines.append(f"  {verdict}  {ident:<{width}}  {score:>7}{flags}  {r.description}".rstrip())
        if not r.passed and r.output:
            for line in cap_output(r.output, 1500).splitlines():
                lines.append(f"        {line}")
    lines.append(_summary(totals(rows)))
    return lines
