"""The unixipc-conformance command: runs the shipped suite from anywhere, with its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pytest_unixipc.conformance_cli import build_args, suite_dir

ROOT = Path(__file__).resolve().parent.parent


def _cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_unixipc.conformance_cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_suite_is_found() -> None:
    assert (suite_dir() / "conftest.py").is_file()


def test_args_use_the_suite_ini_and_pass_options_through() -> None:
    args = build_args(["-k", "dgram", "-n", "2"], Path("/suite"))
    assert args[:2] == ["-c", "/suite/conformance.ini"]
    assert "--unixipc-summary=on" in args
    assert args[-4:] == ["-k", "dgram", "-n", "2"]
    assert "/suite" in args


def test_runs_from_another_directory_and_writes_a_report(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = _cli("-q", "-k", "socketpair", "--unixipc-report", str(report), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "unix IPC properties" in result.stdout
    data = json.loads(report.read_text())
    assert data["schema"] == "pytest-unixipc/conformance-report/1"
    ids = {p["id"] for p in data["properties"]}
    assert {"socketpair.full-duplex", "socketpair.types"} <= ids
    assert all(p["verdict"] in {"pass", "variant", "unverified"} for p in data["properties"])


@pytest.mark.parametrize(
    ("path", "message"),
    [("missing-dir/report.md", "does not exist"), ("report.txt", "must end in .md")],
)
def test_bad_report_path_is_a_usage_error(tmp_path: Path, path: str, message: str) -> None:
    result = _cli("--unixipc-report", str(tmp_path / path), cwd=tmp_path)
    assert result.returncode == 4  # pytest's usage error
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_wheel_ships_the_suite(tmp_path: Path) -> None:
    """`pip install .` must carry the suite: the command then runs it from site-packages."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = tmp_path.glob("pytest_unixipc-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    assert "pytest_unixipc/conformance/conftest.py" in names
    assert "pytest_unixipc/conformance/conformance.ini" in names
    assert "pytest_unixipc/py.typed" in names
    assert not any(name.startswith("conformance/") for name in names)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    result = _cli("-k", "socketpair.full-duplex", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert str(tmp_path / "site" / "pytest_unixipc" / "conformance") in result.stdout


def test_parallel_without_xdist_is_a_clear_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_unixipc import conformance_cli

    real_find_spec = conformance_cli.importlib.util.find_spec
    monkeypatch.setattr(
        conformance_cli.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "xdist" else real_find_spec(name, *a),
    )
    assert conformance_cli.main(["-n", "2"]) == 2
    assert "pip install pytest-xdist" in capsys.readouterr().err
