"""The results writers as pure functions."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pytest_unixipc.grading import results as R


def sample() -> list[R.PropertyResult]:
    return [
        R.PropertyResult("n1", "t1", "a.one", "first", passed=True, points=2, required=True),
        R.PropertyResult("n2", "t2", "a.two", "second", passed=False, output="x" * 10_000),
        R.PropertyResult("n3", "t3", "a.bonus", "extra", passed=True, bonus=True),
        R.PropertyResult(
            "n4", "t4", "a.hidden", "secret", passed=False, hidden="hidden", output="why"
        ),
    ]


def test_gradescope() -> None:
    doc = R.gradescope(sample(), execution_time=1.5)
    assert doc["score"] == 3
    assert isinstance(doc["execution_time"], float)
    names = [t["name"] for t in doc["tests"]]
    assert names[0] == "a.one: first"
    assert names[2] == "a.bonus: extra (bonus)"
    assert [t["max_score"] for t in doc["tests"]] == [2, 1, 0, 1]
    assert [t["status"] for t in doc["tests"]] == ["passed", "failed", "passed", "failed"]
    assert doc["tests"][3]["visibility"] == "hidden"
    assert all(len(t["output"]) <= R.OUTPUT_CAP for t in doc["tests"])
    assert "output cut" in doc["tests"][1]["output"]


def test_totals() -> None:
    tot = R.totals(sample())
    assert (tot.score, tot.max_score, tot.bonus, tot.required_failed) == (3, 4, 1, 2)
    assert not tot.all_required_passed
    assert tot.fraction == 0.75


def test_prairielearn() -> None:
    doc = R.prairielearn(sample())
    assert doc["score"] == 0.75
    assert [(t["points"], t["max_points"]) for t in doc["tests"]] == [
        (2, 2),
        (0, 1),
        (1, 0),
        (0, 1),
    ]
    hidden = doc["tests"][3]
    assert hidden["output"] == ""
    assert hidden["message"] == "(details hidden)"
    everything = [r for r in sample() if not r.bonus]
    for r in everything:
        r.passed = True
    assert R.prairielearn([*everything, sample()[2]])["score"] == 1.0


def test_autolab() -> None:
    line = R.autolab(sample())
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["scores"] == {"a.one": 2, "a.two": 0, "a.bonus": 1, "a.hidden": 0}
    assert doc["scoreboard"] == [3, 2]


def test_write_atomic_and_skeleton(tmp_path: Path) -> None:
    target = tmp_path / "results" / "results.json"
    for fmt in R.FORMATS:
        R.write_atomic(target, R.skeleton(fmt, "not finished"))
        text = target.read_text()
        json.loads(text.strip().splitlines()[-1] if fmt == "autolab" else text)
    assert os.listdir(target.parent) == ["results.json"]
    pl = json.loads(R.skeleton("prairielearn", "the program is missing"))
    assert pl["gradable"] is False
    assert pl["format_errors"] == ["the program is missing"]


def test_render_text() -> None:
    lines = R.render_text(sample())
    assert lines[-1] == "Score: 3/4 (including 1 bonus); 2 required properties failed."
    assert any(line.strip().startswith("FAIL  a.two") for line in lines)
