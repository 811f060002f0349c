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
