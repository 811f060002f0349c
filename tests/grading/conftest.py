"""Fixtures of the grading tests: the sample student programs, compiled once per session."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from samples import compile_all


@pytest.fixture(scope="session")
def student_programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every tests/students/*.c compiled with the system's cc into a session tmp dir."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on PATH")
    out = tmp_path_factory.mktemp("students")
    out.chmod(0o755)
    return compile_all(out)


def pytest_configure(config: pytest.Config) -> None:
    # The role modules use the grading markers at import time; when the grading plugin is not
    # installed through its pytest11 entry point, declare them so --strict-markers accepts them.
    known = {line.split("(")[0].split(":")[0] for line in config.getini("markers")}
    for name in ("grade_points", "grade_hidden", "grade_required", "grade_bonus"):
        if name not in known:
            config.addinivalue_line("markers", f"{name}: grading marker (see the grading plugin)")
