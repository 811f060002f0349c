"""The unixipc-grade command: usage errors, results formats, options, instructor tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_unixipc import ipc_tmp_dir
from pytest_unixipc.grading.cli import plugin_args
from pytest_unixipc.grading.roles import rubric

ECHO_IDS = [e.property_id for e in rubric("echo-server")]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_unixipc.grading.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture
def echo_ok(student_programs: dict[str, Path]) -> str:
    return str(student_programs["echo_server_ok"])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["no-such-role", "--", "/bin/true"], "unknown role"),
        (["echo-server", "--", "/nonexistent/server", "{socket}"], "does not exist"),
        (["echo-server", "--", "NOTEXEC", "{socket}"], "not executable"),
        (["echo-server", "--", "ECHO", "{sock}"], "unknown placeholder {sock}"),
        (["echo-server", "--", "ECHO", "{socket}", "{file}"], "not used by role echo-server"),
        (["echo-server", "--", "ECHO"], "--socket NAME"),
        (["echo-server", "ECHO", "{socket}"], "missing '-- COMMAND"),
        (["echo-server", "--"], "no command"),
        (["echo-server", "--points", "echo-server.nope=3", "--", "ECHO", "{socket}"], "nope"),
        (["echo-server", "--points", "echo-server.echo-short=x", "--", "ECHO", "{socket}"], "x"),
        (["echo-server", "--regex", "dgram-sender.sent=sent", "--", "ECHO", "{socket}"], "count"),
        (["echo-server", "--regex", "bogus=x", "--", "ECHO", "{socket}"], "bogus"),
        (["echo-server", "--timeout", "0", "--", "ECHO", "{socket}"], "--timeout"),
        (["echo-server", "--timeout", "soon", "--", "ECHO", "{socket}"], "soon"),
        (["echo-server", "--format", "moodle", "--", "ECHO", "{socket}"], "moodle"),
    ],
)
def test_usage_errors(args: list[str], words: str, echo_ok: str, tmp_path: Path) -> None:
    """A usage error is one line on stderr, exit status 2, no traceback."""
    notexec = tmp_path / "notexec"
    notexec.write_text("#!/bin/sh\n")
    notexec.chmod(0o644)
    args = [{"ECHO": echo_ok, "NOTEXEC": str(notexec)}.get(a, a) for a in args]
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("unixipc-grade: error:")
    assert words in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("fmt", ["gradescope", "prairielearn", "autolab"])
def test_missing_program_still_writes_results(fmt: str, tmp_path: Path) -> None:
    results = tmp_path / "out" / "results.json"
    proc = run_cli(
        "echo-server",
        "--json",
        str(results),
        "--format",
        fmt,
        "--",
        "./server",
        "{socket}",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    text = results.read_text()
    if fmt == "autolab":
        doc = json.loads(text.strip().splitlines()[-1])
        assert set(doc["scores"]) == set(ECHO_IDS)
        assert set(doc["scores"].values()) == {0}
        return
    doc = json.loads(text)
    assert doc["score"] == 0
    names = [t["name"] for t in doc["tests"]]
    assert [n.split(":")[0] for n in names] == ECHO_IDS
    outputs = {t.get("output", "") for t in doc["tests"]}
    assert all("./server does not exist" in o for o in outputs)


def test_usage_error_writes_skeleton(echo_ok: str, tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    proc = run_cli("echo-server", "--json", str(results), "--", echo_ok, "{bad}", cwd=tmp_path)
    assert proc.returncode == 2
    doc = json.loads(results.read_text())
    assert doc["score"] == 0
    assert "unknown placeholder" in doc["output"]


def test_grader_failure_still_writes_results(echo_ok: str, tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    proc = run_cli(
        "echo-server",
        "--json",
        str(results),
        "--pytest-arg=--no-such-pytest-option",
        "--",
        echo_ok,
        "{socket}",
        cwd=tmp_path,
    )
    assert proc.returncode in (1, 2)
    doc = json.loads(results.read_text())
    assert doc["score"] == 0
    assert "grader" in doc["output"].lower()


def test_gradescope_points_and_fixed_socket(echo_ok: str, tmp_path: Path) -> None:
    """--points sets max scores; --socket names the fixed path of a program without {socket};
    the bonus property adds points beyond the total."""
    results = tmp_path / "results.json"
    proc = run_cli(
        "echo-server",
        "--json",
        str(results),
        "--points",
        "echo-server.echo-short=5",
        "echo-server.echo-large=2",
        "--hidden",
        "echo-server.echo-binary=after_due_date",
        "--socket",
        "echo_socket",
        "--",
        echo_ok,
        "echo_socket",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(results.read_text())
    by_id = {t["name"].split(":")[0]: t for t in doc["tests"]}
    assert by_id["echo-server.echo-short"]["max_score"] == 5
    assert by_id["echo-server.echo-large"]["max_score"] == 2
    assert by_id["echo-server.echo-binary"]["visibility"] == "after_due_date"
    assert by_id["echo-server.echo-short"]["visibility"] == "visible"
    bonus = by_id["echo-server.concurrent-clients"]
    assert (bonus["max_score"], bonus["score"], bonus["status"]) == (0, 1, "passed")
    assert doc["score"] == 5 + 2 + 6 + 1
    assert isinstance(doc["execution_time"], float)
    assert "Score: 14/13" in proc.stdout


def test_prairielearn_and_autolab(echo_ok: str, tmp_path: Path) -> None:
    pl = tmp_path / "pl.json"
    proc = run_cli(
        "echo-server",
        "--json",
        str(pl),
        "--format",
        "prairielearn",
        "--",
        echo_ok,
        "{socket}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0
    doc = json.loads(pl.read_text())
    assert doc["gradable"] is True
    assert doc["score"] == 1.0
    assert {(t["points"], t["max_points"]) for t in doc["tests"]} == {(1, 1), (1, 0)}
    al = tmp_path / "autolab.json"
    proc = run_cli(
        "echo-server",
        "--json",
        str(al),
        "--format",
        "autolab",
        "--",
        echo_ok,
        "{socket}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0
    last = proc.stdout.strip().splitlines()[-1]
    assert json.loads(last) == json.loads(al.read_text())
    assert json.loads(last)["scoreboard"] == [9, 9]


def test_parallel_with_junit(echo_ok: str, tmp_path: Path) -> None:
    """-n 2 grades properties in parallel (xdist); results are keyed by node id."""
    results = tmp_path / "results.json"
    junit = tmp_path / "junit.xml"
    proc = run_cli(
        "echo-server",
        "-n",
        "2",
        "--junitxml",
        str(junit),
        "--json",
        str(results),
        "--",
        echo_ok,
        "{socket}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(results.read_text())
    assert [t["name"].split(":")[0] for t in doc["tests"]] == ECHO_IDS
    assert all(t["status"] == "passed" for t in doc["tests"])
    assert "testcase" in junit.read_text()


REVERSING_PLUGIN = """
import pytest

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(items):
    items.reverse()  # like pytest-randomly: reorders before every other plugin looks
    return (yield)
"""


def test_results_keep_the_rubric_order_whatever_the_run_order(echo_ok: str, tmp_path: Path) -> None:
    """A plugin that reorders the run (pytest-randomly) does not reorder the results."""
    (tmp_path / "reverse_run_order.py").write_text(REVERSING_PLUGIN)
    results = tmp_path / "results.json"
    proc = run_cli(
        "echo-server",
        "--json",
        str(results),
        "--pytest-arg=-p",
        "--pytest-arg=reverse_run_order",
        "--",
        echo_ok,
        "{socket}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(results.read_text())
    assert [t["name"].split(":")[0] for t in doc["tests"]] == ECHO_IDS


def test_custom_output_format(student_programs: dict[str, Path], tmp_path: Path) -> None:
    client = str(student_programs["echo_client_ok"])
    results = tmp_path / "results.json"
    args = ["echo-client", "--json", str(results)]
    proc = run_cli(
        *args,
        "--regex",
        r"echo-client.echo=ECHO: (?P<text>.*)",
        "--",
        client,
        "{socket}",
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    failed = [
        t["name"] for t in json.loads(results.read_text())["tests"] if t["status"] == "failed"
    ]
    assert [n.split(":")[0] for n in failed] == ["echo-client.echo-lines"]
    proc = run_cli(
        *args,
        "--regex",
        r"echo-client.echo=echo>\s(?P<text>.*)",
        "--",
        client,
        "{socket}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout


OWN_TESTS = """
import pytest

@pytest.mark.grade_points(3)
@pytest.mark.grade_hidden(visibility="after_due_date")
def test_own_echo(student_program, student_client):
    \"\"\"The instructor's own check: one byte comes back.\"\"\"
    sock = student_client("stream")
    sock.sendall(b"z")
    assert sock.recv(1) == b"z"

def test_own_failing(student_program):
    \"\"\"An instructor's test that fails.\"\"\"
    assert student_program.fd_count() < 0, "deliberately failing"
"""


def test_instructor_tests_through_cli(echo_ok: str, tmp_path: Path) -> None:
    own = tmp_path / "test_own.py"
    own.write_text(textwrap.dedent(OWN_TESTS))
    results = tmp_path / "results.json"
    proc = run_cli(
        "echo-server",
        "--tests",
        str(own),
        "--points",
        "test_own_failing=4",
        "--json",
        str(results),
        "--",
        echo_ok,
        "{socket}",
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout
    tests = {t["name"].split(":")[0]: t for t in json.loads(results.read_text())["tests"]}
    assert tests["test_own_echo"]["visibility"] == "after_due_date"
    assert tests["test_own_echo"]["max_score"] == 3
    assert tests["test_own_echo"]["status"] == "passed"
    assert tests["test_own_failing"]["status"] == "failed"
    assert tests["test_own_failing"]["max_score"] == 4
    assert len(tests) == 9 + 2
    assert "deliberately failing" in tests["test_own_failing"]["output"]


def test_instructor_tests_through_pytest(echo_ok: str, tmp_path: Path) -> None:
    """The plugin's options and fixtures work in a plain pytest run."""
    own = tmp_path / "test_own.py"
    own.write_text(textwrap.dedent(OWN_TESTS))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    results = tmp_path / "pl.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            str(own),
            "-n",
            "2",
            *plugin_args(),
            "--unixipc-role",
            "echo-server",
            "--unixipc-program",
            json.dumps([echo_ok, "{socket}"]),
            "--unixipc-results",
            str(results),
            "--unixipc-results-format",
            "prairielearn",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "grading: echo-server" in proc.stdout
    doc = json.loads(results.read_text())
    assert doc["score"] == pytest.approx(3 / 4)
    hidden = next(t for t in doc["tests"] if t["name"].startswith("test_own_echo"))
    assert hidden["output"] == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: drops the program to nobody")
def test_user_nobody(echo_ok: str, tmp_path: Path) -> None:
    """--user nobody: a program nobody cannot reach is a usage error; one it can is graded."""
    results = tmp_path / "results.json"
    proc = run_cli("echo-server", "--user", "nobody", "--", echo_ok, "{socket}", cwd=tmp_path)
    assert proc.returncode == 2
    assert "not searchable by user nobody" in proc.stderr
    with ipc_tmp_dir() as shared:
        shared.chmod(0o755)
        exe = shutil.copy(echo_ok, shared / "server")
        proc = run_cli(
            "echo-server",
            "--user",
            "nobody",
            "--json",
            str(results),
            "--",
            exe,
            "{socket}",
            cwd=tmp_path,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_keyword_selects_properties(echo_ok: str, tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    proc = run_cli(
        "echo-server", "-k", "echo_short or echo_binary", "--json", str(results),
        "--", echo_ok, "{socket}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = [t["name"].split(":")[0] for t in json.loads(results.read_text())["tests"]]
    assert names == ["echo-server.echo-short", "echo-server.echo-binary"]


def test_broken_instructor_tests_are_a_failed_entry(echo_ok: str, tmp_path: Path) -> None:
    """A test file that cannot be imported becomes a failed "could not load" entry."""
    broken = tmp_path / "test_broken.py"
    broken.write_text("def test_x(:\n")
    results = tmp_path / "results.json"
    proc = run_cli(
        "echo-server", "--tests", str(broken), "--json", str(results),
        "--", echo_ok, "{socket}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    tests = json.loads(results.read_text())["tests"]
    assert tests[0]["name"].startswith("could not load")
    assert tests[0]["status"] == "failed"
    assert "SyntaxError" in tests[0]["output"] or "invalid syntax" in tests[0]["output"]
    # The rubric was still graded.
    assert [t["status"] for t in tests[1:]] == ["passed"] * len(ECHO_IDS)
