"""Grade every sample student program once and check the exact set of properties it fails,
the exit status, the results file, the time taken, and that none of its processes survive."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from samples import SAMPLES, Sample, command

from pytest_unixipc.grading.roles import rubric
from pytest_unixipc.grading.sandbox import find_marked_processes

# Shorter than the default 3 s per property, to keep this suite fast; bench/grade_bench.py
# grades with the defaults.
TIMEOUT = "2"


def grade(
    sample: Sample, exe: Path, tmp_path: Path, *extra: str
) -> tuple[int, dict, str, float, str]:
    tag = f"t{secrets.token_hex(4)}"
    results = tmp_path / "results.json"
    argv = [
        sys.executable,
        "-m",
        "pytest_unixipc.grading.cli",
        sample.role,
        "--json",
        str(results),
        "--timeout",
        TIMEOUT,
        "--sandbox-tag",
        tag,
        *extra,
        "--",
        *command(sample, exe),
    ]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(results.read_text()), proc.stdout, elapsed, tag


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_sample(sample: Sample, student_programs: dict[str, Path], tmp_path: Path) -> None:
    code, doc, stdout, elapsed, tag = grade(sample, student_programs[sample.name], tmp_path)
    ids = [t["name"].split(":", 1)[0].replace(" (bonus)", "") for t in doc["tests"]]
    assert ids == [e.property_id for e in rubric(sample.role)], "every property, in rubric order"
    failed = {i for i, t in zip(ids, doc["tests"], strict=True) if t["status"] == "failed"}
    assert failed == set(sample.fails), stdout
    assert code == sample.exit_status, stdout
    # Feedback: every failure says something; nothing survives; the time limits hold.
    for test in doc["tests"]:
        assert (test["status"] == "failed") == bool(test["output"]), test
        assert test["score"] == (
            test["max_score"] if test["status"] == "passed" else 0
        ) or "bonus" in test.get("tags", [])
    assert isinstance(doc["execution_time"], float)
    assert find_marked_processes(tag) == [], f"processes of {sample.name} survived grading"
    leftovers = [
        p
        for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified")
        if os.path.isdir(root)
        for p in os.listdir(root)
        if p.startswith(f"unixipc-{tag}")
    ]
    assert leftovers == [], "cgroups left behind"
    assert elapsed < (30 if sample.fails else 10), f"grading took {elapsed:.1f} s"
