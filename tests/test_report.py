"""The property report: recorder, model, writers, and the plugin's options and hooks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from _inner import add_suite, assert_all_gone, linux_only, run_inner

from pytest_unixipc.report import PropertyRecorder, Report, model
from pytest_unixipc.report.model import PROPERTY_KEY, RECORD_KEY, platform_key
from pytest_unixipc.report.writers import (
    SCHEMA,
    render_json,
    render_markdown,
    render_text,
    write_report,
)

REPORT_KEYS = {"schema", "platform", "summary", "properties", "limits"}
PROPERTY_KEYS = {"id", "area", "verdict", "expected", "observed", "reference", "message", "tests"}
PLATFORM_KEYS = {
    "platform",
    "system",
    "kernel",
    "kernel_version",
    "machine",
    "python",
    "implementation",
}
#: What report_suite.py's properties end as on a platform with documented expectations.
VERDICTS = {
    "demo.fails": "fail",
    "demo.pass": "pass",
    "demo.skipped": "skip",
    "demo.unverified": "unverified",
    "demo.variant": "variant",
    "other.kinds": "pass",
}


# -- the recorder ---------------------------------------------------------------------------------


def recorded(props: list[tuple[str, object]]) -> dict[str, object]:
    (value,) = (v for k, v in props if k == RECORD_KEY)
    assert isinstance(value, str)
    loaded = json.loads(value)
    assert isinstance(loaded, dict)
    return loaded


def recorder(platform: str = "linux") -> tuple[PropertyRecorder, list[tuple[str, object]]]:
    props: list[tuple[str, object]] = []
    rec = PropertyRecorder(props, "area.name", "unix(7)")
    rec.platform = platform
    return rec, props


def test_recorder_puts_id_and_record_in_user_properties() -> None:
    rec, props = recorder()
    assert [k for k, _ in props] == [PROPERTY_KEY, RECORD_KEY]
    assert json.loads(str(props[0][1])) == {"id": "area.name", "ref": "unix(7)"}
    rec.observe("bytes", 3)
    rec.observe("odd", object())  # not JSON-able: kept as its repr
    rec.limit("PIPE_BUF", 4096, "bytes")
    rec.limit("PIPE_BUF", 512, "bytes")  # a limit recorded again replaces the first
    record = recorded(props)
    assert record["verdict"] == "pass"
    observed = record["observed"]
    assert isinstance(observed, dict)
    assert observed["bytes"] == 3
    assert str(observed["odd"]).startswith("<object object")
    assert record["limits"] == [{"name": "PIPE_BUF", "value": 512, "unit": "bytes"}]
    assert [k for k, _ in props].count(RECORD_KEY) == 1


def test_expect_matching_documented_behaviour_passes() -> None:
    rec, props = recorder()
    rec.expect("EPIPE", portable="EPIPE", linux="EPIPE")
    assert rec.verdict == "pass"
    assert recorded(props)["expected"] == "EPIPE"


def test_expect_platform_variant() -> None:
    rec, props = recorder("darwin")
    rec.expect("ENOBUFS", portable="EAGAIN", linux="EAGAIN", darwin="ENOBUFS")
    assert rec.verdict == "variant"
    assert recorded(props)["note"] == "portable expectation: EAGAIN"


def test_expect_without_documented_behaviour_is_unverified() -> None:
    rec, props = recorder("freebsd")
    rec.expect("whatever", portable="x", linux="y")
    assert rec.verdict == "unverified"
    assert recorded(props)["expected"] is None


def test_expect_mismatch_fails_naming_platform_expected_and_observed() -> None:
    rec, _ = recorder()
    with pytest.raises(AssertionError) as raised:
        rec.expect("ECONNREFUSED", linux="EAGAIN", note="full backlog")
    assert str(raised.value) == (
        "area.name: linux documents 'EAGAIN', observed 'ECONNREFUSED' (full backlog)"
    )


def test_platform_key() -> None:
    assert sys.platform.startswith(platform_key())


# -- the model and writers ------------------------------------------------------------------------


def feed(report: Report, nodeid: str, prop: str, outcome: str = "passed", **record: object) -> None:
    full = {"verdict": "pass", "observed": {}, "limits": [], **record}
    props = [
        (PROPERTY_KEY, json.dumps({"id": prop, "ref": f"ref of {prop}"})),
        (RECORD_KEY, json.dumps(full)),
    ]
    report.add_phase(nodeid, "setup", "passed", props)
    report.add_phase(nodeid, "call", outcome, props, "boom" if outcome == "failed" else "")
    report.add_phase(nodeid, "teardown", "passed", props)


def sample_report() -> Report:
    report = Report()
    feed(report, "t.py::a[stream]", "stream.a", observed={"n": 1})
    feed(report, "t.py::a[dgram]", "stream.a", verdict="variant", expected="X", note="portable: Y")
    feed(report, "t.py::b", "pipe.b", outcome="failed")
    feed(report, "t.py::c", "pipe.c", limits=[{"name": "PIPE_BUF", "value": 4096, "unit": "B"}])
    report.add_phase("t.py::plain", "call", "passed", [])  # not a property: ignored
    return report


def test_model_aggregates_worst_verdict_per_property() -> None:
    report = sample_report()
    assert set(report.properties) == {"stream.a", "pipe.b", "pipe.c"}
    assert report.properties["stream.a"].verdict == "variant"
    assert report.properties["stream.a"].expected == "X"
    assert report.properties["stream.a"].observed == {"n": 1}
    assert report.properties["pipe.b"].verdict == "fail"
    assert report.properties["pipe.b"].message == "call: boom"
    assert report.counts() == {"fail": 1, "unverified": 0, "skip": 0, "variant": 1, "pass": 1}
    assert report.failed
    assert list(report.by_area()) == ["pipe", "stream"]
    assert report.limits["PIPE_BUF"].property == "pipe.c"


def test_per_parameter_expectations_and_observations_stay_apart() -> None:
    report = Report()
    for kind, errno_name in (("stream", "EPIPE"), ("dgram", "ECONNREFUSED")):
        feed(
            report,
            f"t.py::send[x.send-{kind}]",
            "x.send",
            expected=errno_name,
            observed={"behaviour": errno_name},
        )
    feed(report, "t.py::same[x.same-stream]", "x.same", expected="A", observed={"n": 1})
    feed(report, "t.py::same[x.same-dgram]", "x.same", expected="A", observed={"n": 1})
    sent = report.properties["x.send"]
    assert [t.param for t in sent.tests] == ["dgram", "stream"]  # by node id, not run order
    assert sent.expected == "dgram: ECONNREFUSED; stream: EPIPE"
    assert sent.observed == {
        "dgram": {"behaviour": "ECONNREFUSED"},
        "stream": {"behaviour": "EPIPE"},
    }
    same = report.properties["x.same"]
    assert (same.expected, same.observed) == ("A", {"n": 1})  # agreeing tests merge
    tests = next(p for p in render_json(report)["properties"] if p["id"] == "x.send")["tests"]
    assert [set(t) for t in tests] == [{"nodeid", "verdict", "expected", "observed", "message"}] * 2
    assert [t["expected"] for t in tests] == ["ECONNREFUSED", "EPIPE"]


@pytest.mark.parametrize(
    ("nodeid", "prop_id", "param"),
    [
        ("t.py::test_a", "", "test_a"),
        ("t.py::test_a[stream]", "", "stream"),
        ("t.py::test_a[pipe.atomic-stream]", "pipe.atomic", "stream"),
        ("t.py::test_a[stream.no-boundaries-seqpacket]", "stream.no-boundaries", "seqpacket"),
        ("t.py::test_a[stream.no-boundaries]", "stream.no-boundaries", "stream.no-boundaries"),
    ],
)
def test_test_outcome_param(nodeid: str, prop_id: str, param: str) -> None:
    assert model.TestOutcome(nodeid=nodeid, verdict="pass", property_id=prop_id).param == param


def test_model_closes_tests_whose_teardown_never_came() -> None:
    report = Report()
    props = [(PROPERTY_KEY, json.dumps({"id": "x.crashed", "ref": ""}))]
    report.add_phase("t.py::crashed", "setup", "passed", props)
    assert report  # pending
    report.finish_all()
    result = report.properties["x.crashed"]
    assert (result.verdict, result.message) == ("fail", "the test did not finish")


def test_render_text() -> None:
    lines = render_text(sample_report())
    assert lines[0].startswith("platform: ")
    assert "[pipe]" in lines
    assert "[stream]" in lines
    assert any(line.split()[:2] == ["FAIL", "pipe.b"] and "call: boom" in line for line in lines)
    assert any(line.split()[:2] == ["variant", "stream.a"] for line in lines)
    assert "measured limits:" in lines
    assert any(line.split() == ["PIPE_BUF", "4096", "B"] for line in lines)
    assert lines[-1] == "3 properties: 1 pass, 1 variant, 1 FAIL"


def test_render_markdown() -> None:
    text = render_markdown(sample_report())
    assert text.startswith("# Unix IPC conformance report\n")
    assert "## pipe" in text
    assert "| property | verdict | expected | observed | reference |" in text
    assert "| `pipe.b` | FAIL |" in text
    assert "## Measured limits" in text
    assert "| PIPE_BUF | 4096 B | `pipe.c` |" in text


def test_render_json_schema() -> None:
    data = render_json(sample_report())
    assert set(data) == REPORT_KEYS
    assert data["schema"] == SCHEMA == "pytest-unixipc/conformance-report/1"
    assert set(data["platform"]) == PLATFORM_KEYS
    assert data["summary"] == {
        "total": 3,
        "fail": 1,
        "unverified": 0,
        "skip": 0,
        "variant": 1,
        "pass": 1,
    }
    assert [p["id"] for p in data["properties"]] == ["pipe.b", "pipe.c", "stream.a"]
    assert all(set(p) == PROPERTY_KEYS for p in data["properties"])
    assert data["limits"] == [
        {"name": "PIPE_BUF", "value": 4096, "unit": "B", "property": "pipe.c"}
    ]
    json.dumps(data)


@pytest.mark.parametrize("suffix", [".md", ".json"])
def test_write_report_replaces_the_file_whole(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"report{suffix}"
    target.write_text("old")
    write_report(sample_report(), target)
    text = target.read_text()
    assert "pipe.b" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temporary left


def test_write_report_refuses_other_suffixes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must end in \.md or \.json, not '\.txt'"):
        write_report(sample_report(), tmp_path / "r.txt")
    assert list(tmp_path.iterdir()) == []


# -- the plugin, in inner sessions ----------------------------------------------------------------


@linux_only()
def test_terminal_summary_node_ids_and_json_report(
    pytester: pytest.Pytester, ipc_tmp_path: Path
) -> None:
    add_suite(pytester, "report_suite")
    out = pytester.path / "out" / "report.json"
    out.parent.mkdir()
    run = run_inner(pytester, "-v", f"--unixipc-report={out}", sock_root=ipc_tmp_path)
    run.assert_outcomes(passed=6, failed=1, skipped=1)
    for line in (  # in whatever order they ran
        "*test_report_suite.py::test_passes[[]demo.pass[]] PASSED*",
        "*test_report_suite.py::test_over_kinds[[]other.kinds-stream[]] PASSED*",
        "*test_report_suite.py::test_not_a_property PASSED*",
    ):
        run.result.stdout.fnmatch_lines([line])
    run.result.stdout.fnmatch_lines(
        [
            "*= unix IPC properties =*",
            "platform: *",
            "[[]demo[]]",
            "  FAIL       demo.fails       call: AssertionError: demo.fails: * documents "
            "'documented-y', observed 'observed-x'",
            "  pass       demo.pass",
            "  not run    demo.skipped     Skipped: needs root: demo",
            "  unverified demo.unverified  observed: C (no documented expectation)",
            "  variant    demo.variant     * behaviour: B; portable expectation: A",
            "[[]other[]]",
            "  pass       other.kinds",
            "measured limits:",
            "  demo limit  4096 bytes",
            "6 properties: 2 pass, 1 variant, 1 not run, 1 unverified, 1 FAIL",
            f"report written to {out}",
        ]
    )
    data = json.loads(out.read_text())
    assert set(data) == REPORT_KEYS
    assert data["schema"] == SCHEMA
    assert {p["id"]: p["verdict"] for p in data["properties"]} == VERDICTS
    kinds = next(p for p in data["properties"] if p["id"] == "other.kinds")
    assert [t["nodeid"] for t in kinds["tests"]] == [  # by node id, however they ran
        "test_report_suite.py::test_over_kinds[other.kinds-dgram]",
        "test_report_suite.py::test_over_kinds[other.kinds-stream]",
    ]
    assert kinds["observed"] == {"stream ok": True, "dgram ok": True}
    assert data["limits"] == [
        {"name": "demo limit", "value": 4096, "unit": "bytes", "property": "demo.pass"}
    ]
    assert_all_gone(run)


@linux_only()
def test_markdown_report_under_xdist_and_property_selection(
    pytester: pytest.Pytester, ipc_tmp_path: Path
) -> None:
    add_suite(pytester, "report_suite")
    out = pytester.path / "report.md"
    run = run_inner(
        pytester,
        "-n",
        "2",
        "--unixipc-summary=off",
        f"--unixipc-report={out}",
        "-k",
        "demo.pass or demo.variant or other.kinds",
        sock_root=ipc_tmp_path,
    )
    run.assert_outcomes(passed=4)
    assert "unix IPC properties" not in run.output  # summary off; the file is still written
    text = out.read_text()
    assert text.startswith("# Unix IPC conformance report")
    assert "3 properties: 2 pass, 1 variant" in text
    assert "| `demo.pass` | pass |  | answer=42 | unix(7) |" in text
    assert "| `demo.variant` | variant | B |" in text
    assert "| demo limit | 4096 bytes | `demo.pass` |" in text
    assert "demo.fails" not in text
    assert_all_gone(run)


@linux_only()
@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "--unixipc-report=report.txt",
            "--unixipc-report: 'report.txt' must end in .md (Markdown)",
        ),
        (
            "--unixipc-report=missing/report.json",
            "--unixipc-report: directory 'missing' does not exist",
        ),
        ("--unixipc-sock-root=/nonexistent-root", "'/nonexistent-root' is not a directory"),
    ],
)
def test_usage_errors(pytester: pytest.Pytester, option: str, message: str) -> None:
    add_suite(pytester, "report_suite")
    run = run_inner(pytester, option)
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in run.output
    assert not list(pytester.path.glob("report*"))
    assert run.orphans == []


@linux_only()
def test_summary_on_without_properties(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    auto = run_inner(pytester)
    assert "unix IPC properties" not in auto.output  # auto: only when properties ran
    on = run_inner(pytester, "--unixipc-summary=on")
    assert "unix IPC properties" in on.output
    assert "0 properties: " in on.output
