"""The grading pytest plugin: options, markers, fixtures, and the results files.

Markers (registered here):

- ``grade_points(n)``: the property is worth ``n`` points (default 1);
- ``grade_hidden(visibility="hidden")``: hide the test from students (Gradescope visibility:
  "hidden", "after_due_date" or "after_published"; PrairieLearn: output withheld);
- ``grade_required``: a gate: when it fails, every later property of the run is reported
  failed "not graded" without running the program again;
- ``grade_bonus``: extra points; not needed for the required pass.

They travel in each report's ``user_properties``, so they survive pytest-xdist.  The
controller collects reports by node id (``pytest_runtest_logreport``), writes a skeleton
results file at the start and the final one atomically at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_unixipc import ipc_tmp_dir
from pytest_unixipc.grading import results as _results
from pytest_unixipc.grading.program import (
    DEFAULT_REGEXES,
    DEFAULT_VALUES,
    REGEX_GROUPS,
    GradingConfig,
    StudentProgram,
    substitute,
)
from pytest_unixipc.grading.roles import ROLES
from pytest_unixipc.grading.sandbox import Limits, SandboxError, run_program

__all__ = ["RESULTS_KEY", "ProgramFactory", "grading_config_from"]

_CONFIG_KEY = pytest.StashKey[GradingConfig]()
RESULTS_KEY = pytest.StashKey[list[_results.PropertyResult]]()
_COLLECTOR_KEY = pytest.StashKey["_Collector"]()

_VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
_PROP = "unixipc_grade"  # user_properties key carrying the grading metadata (JSON)
_LIMIT_NAMES = {
    "cpu": "cpu_seconds",
    "files": "open_files",
    "procs": "processes",
    "fsize": "file_size",
    "as": "address_space",
    "output": "output_cap",
}


# -- options --------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("unixipc-grading", "grading student IPC programs (unixipc-grade)")
    add = group.addoption
    add(
        "--unixipc-role",
        metavar="ROLE",
        default=None,
        help=f"role the program is graded as: {', '.join(ROLES)}",
    )
    add(
        "--unixipc-program",
        metavar="COMMAND",
        default=None,
        help="the student's command, as a JSON list or a shell-quoted string, with placeholders "
        "{socket} {size} {message} {count} {file} {workers}",
    )
    add(
        "--unixipc-socket",
        metavar="NAME",
        default=None,
        help="fixed socket name (relative to the program's directory) when the command has "
        "no {socket}",
    )
    add(
        "--unixipc-timeout",
        metavar="SECONDS",
        type=float,
        default=3.0,
        help="wall-clock limit per property (default 3)",
    )
    add(
        "--unixipc-points",
        metavar="ID=N",
        action="append",
        default=[],
        help="points for a property (repeatable)",
    )
    add(
        "--unixipc-hidden",
        metavar="ID[=VISIBILITY]",
        action="append",
        default=[],
        help="hide a property from students (Gradescope visibility, default hidden)",
    )
    add(
        "--unixipc-regex",
        metavar="NAME=REGEX",
        action="append",
        default=[],
        help=f"course output format; names: {', '.join(DEFAULT_REGEXES)}",
    )
    add(
        "--unixipc-limit",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help=f"sandbox limit; names: {', '.join(_LIMIT_NAMES)}",
    )
    add(
        "--unixipc-user",
        metavar="USER",
        default=None,
        help="run the program as this user (needs root), e.g. nobody",
    )
    add("--unixipc-results", metavar="PATH", default=None, help="write a results file")
    add(
        "--unixipc-results-format",
        choices=_results.FORMATS,
        default="gradescope",
        help="results file format (default gradescope)",
    )
    add(
        "--unixipc-sandbox-tag",
        metavar="TAG",
        default=None,
        help="prefix of UNIXIPC_SANDBOX_ID in the programs' environment",
    )
    add("--unixipc-state-dir", metavar="DIR", default=None, help=argparse.SUPPRESS)


def _parse_pairs(option: str, items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise pytest.UsageError(f"{option}: expected NAME=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def parse_command(text: str) -> list[str]:
    """A command given as a JSON list of words or a shell-quoted string."""
    text = text.strip()
    if text.startswith("["):
        try:
            words = json.loads(text)
        except ValueError as exc:
            raise pytest.UsageError(f"--unixipc-program: bad JSON: {exc}") from None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise pytest.UsageError("--unixipc-program: the JSON must be a list of strings")
        return list(words)
    return shlex.split(text)


def grading_config_from(config: pytest.Config) -> GradingConfig:
    """Build and check the :class:`GradingConfig` from the options (UsageError if bad)."""
    opt = config.getoption
    role = opt("unixipc_role")
    if role is not None and role not in ROLES:
        raise pytest.UsageError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    command = parse_command(opt("unixipc_program")) if opt("unixipc_program") else []
    if command and "/" in command[0] and not os.path.isabs(command[0]):
        command[0] = str(Path(config.invocation_params.dir, command[0]))
    timeout = float(opt("unixipc_timeout"))
    if not timeout > 0:
        raise pytest.UsageError("--unixipc-timeout must be positive")
    points = {}
    for key, value in _parse_pairs("--unixipc-points", opt("unixipc_points")).items():
        try:
            points[key] = float(value)
        except ValueError:
            raise pytest.UsageError(f"--unixipc-points: {value!r} is not a number") from None
    hidden = {}
    for item in opt("unixipc_hidden"):
        key, _, value = item.partition("=")
        value = value or "hidden"
        if value not in _VISIBILITIES:
            raise pytest.UsageError(
                f"--unixipc-hidden: visibility {value!r} is not one of {', '.join(_VISIBILITIES)}"
            )
        hidden[key] = value
    regexes = {}
    for key, value in _parse_pairs("--unixipc-regex", opt("unixipc_regex")).items():
        if key not in DEFAULT_REGEXES:
            raise pytest.UsageError(
                f"--unixipc-regex: unknown format {key!r} (formats: {', '.join(DEFAULT_REGEXES)})"
            )
        try:
            rx = re.compile(value)
        except re.error as exc:
            raise pytest.UsageError(f"--unixipc-regex {key}: {exc}") from None
        missing = [g for g in REGEX_GROUPS[key] if g not in rx.groupindex]
        if missing:
            raise pytest.UsageError(
                f"--unixipc-regex {key}: needs the named group(s) "
                + ", ".join(f"(?P<{g}>...)" for g in missing)
            )
        regexes[key] = rx
    limits = Limits(wall_seconds=timeout)
    changes: dict[str, Any] = {}
    for key, value in _parse_pairs("--unixipc-limit", opt("unixipc_limit")).items():
        if key not in _LIMIT_NAMES:
            raise pytest.UsageError(
                f"--unixipc-limit: unknown limit {key!r} (limits: {', '.join(_LIMIT_NAMES)})"
            )
        try:
            changes[_LIMIT_NAMES[key]] = int(value)
        except ValueError:
            raise pytest.UsageError(f"--unixipc-limit {key}: {value!r} is not an integer") from None
    if changes:
        from dataclasses import replace

        limits = replace(limits, **changes)
    user = opt("unixipc_user")
    if user is not None and os.geteuid() != 0:
        raise pytest.UsageError("--unixipc-user needs root")
    return GradingConfig(
        role=role,
        command=command,
        socket_name=opt("unixipc_socket"),
        timeout=timeout,
        limits=limits,
        user=user,
        points=points,
        hidden=hidden,
        regexes=regexes,
        values=dict(DEFAULT_VALUES),
        sandbox_tag=opt("unixipc_sandbox_tag"),
    )


# -- configure: markers, config, skeleton ----------------------------------------------------


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "grade_points(n): the property is worth n points (default 1)",
        "grade_hidden(visibility='hidden'): hide this test's result from students",
        "grade_required: a gate; if it fails, later properties are not graded",
        "grade_bonus: extra points, not needed for the required pass",
    ):
        config.addinivalue_line("markers", line)
    if not any(m.startswith("ipc_property") for m in config.getini("markers")):
        config.addinivalue_line("markers", "ipc_property(id, *, ref): the property a test checks")
    gconf = grading_config_from(config)
    if _is_worker(config):
        gconf.state_dir = config.workerinput.get("unixipc_state_dir")  # type: ignore[attr-defined]
    else:
        gconf.state_dir = config.getoption("unixipc_state_dir") or None
        collector = _Collector(config)
        config.stash[_COLLECTOR_KEY] = collector
        if gconf.state_dir is None and (gconf.command or config.getoption("unixipc_results")):
            gconf.state_dir = tempfile.mkdtemp(prefix="unixipc-grade-")
            collector.own_state_dir = gconf.state_dir
        collector.write_skeleton()
    config.stash[_CONFIG_KEY] = gconf


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist (controller): hand the gate state directory to each worker."""
    gconf = node.config.stash.get(_CONFIG_KEY, None)
    if gconf is not None:
        node.workerinput["unixipc_state_dir"] = gconf.state_dir


def pytest_unconfigure(config: pytest.Config) -> None:
    collector = config.stash.get(_COLLECTOR_KEY, None)
    if collector is not None and collector.own_state_dir:
        shutil.rmtree(collector.own_state_dir, ignore_errors=True)


# -- collection: grading metadata into user_properties ---------------------------------------


def _meta(item: pytest.Item, gconf: GradingConfig) -> dict[str, Any]:
    prop = item.get_closest_marker("ipc_property")
    prop_id = str(prop.args[0]) if prop and prop.args else None
    points_mark = item.get_closest_marker("grade_points")
    points = float(points_mark.args[0]) if points_mark and points_mark.args else 1.0
    # --points and --hidden name a property ID, or an instructor's test by its name.
    key = prop_id if prop_id else item.name.split("[", 1)[0]
    if key in gconf.points:
        points = gconf.points[key]
    hidden_mark = item.get_closest_marker("grade_hidden")
    hidden = None
    if hidden_mark is not None:
        hidden = str(
            hidden_mark.kwargs.get(
                "visibility", hidden_mark.args[0] if hidden_mark.args else "hidden"
            )
        )
    if key in gconf.hidden:
        hidden = gconf.hidden[key]
    if hidden == "visible":
        hidden = None
    func = getattr(item, "function", None)
    doc = ((func.__doc__ if func else None) or "").strip().splitlines()
    order = getattr(item, "_unixipc_order", 0)
    return {
        "property": prop_id,
        "description": doc[0].strip() if doc else "",
        "points": points,
        "hidden": hidden,
        "required": item.get_closest_marker("grade_required") is not None,
        "bonus": item.get_closest_marker("grade_bonus") is not None,
        "order": order,
    }


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gconf = config.stash[_CONFIG_KEY]
    if not gconf.command:
        return  # not a grading run: leave other suites' reports (and JUnit XML) alone
    for index, item in enumerate(sorted(items, key=_definition_order(config))):
        item._unixipc_order = index  # type: ignore[attr-defined]
    for item in items:
        item.user_properties.append((_PROP, json.dumps(_meta(item, gconf))))


def _definition_order(config: pytest.Config) -> Callable[[pytest.Item], tuple[Any, ...]]:
    """A sort key giving the rubric's order: the files in command-line order, each test where
    it is defined, parameters in their order.  Results are listed that way whatever order the
    tests ran in (pytest-randomly shuffles collection, pytest-xdist spreads it)."""
    roots = [Path(arg.split("::")[0]).resolve() for arg in config.args]

    def key(item: pytest.Item) -> tuple[Any, ...]:
        path = Path(item.path).resolve()
        rank = next(
            (i for i, root in enumerate(roots) if path == root or root in path.parents),
            len(roots),
        )
        indices = getattr(getattr(item, "callspec", None), "indices", {})
        return rank, str(path), item.location[1] or 0, tuple(sorted(indices.items()))

    return key


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # A failed gate (grade_required) stops the grading of later properties.
    if report.failed and item.get_closest_marker("grade_required") is not None:
        gconf = item.config.stash[_CONFIG_KEY]
        if gconf.state_dir:
            prop = item.get_closest_marker("ipc_property")
            name = str(prop.args[0]) if prop and prop.args else item.nodeid
            with contextlib.suppress(OSError):
                Path(gconf.state_dir, "gate-failed").write_text(name)
    return report


def gate_failure(gconf: GradingConfig) -> str | None:
    """The required property that failed earlier in this run, if any."""
    if not gconf.state_dir:
        return None
    try:
        return Path(gconf.state_dir, "gate-failed").read_text()
    except OSError:
        return None


# -- controller: collect per-test results ----------------------------------------------------


class _Collector:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.monotonic()
        self.entries: dict[str, dict[str, Any]] = {}
        self.collected: set[str] = set()
        self.collect_errors: dict[str, str] = {}
        self.own_state_dir: str | None = None

    @property
    def path(self) -> str | None:
        value = self.config.getoption("unixipc_results")
        return str(value) if value else None

    @property
    def fmt(self) -> str:
        return str(self.config.getoption("unixipc_results_format"))

    def write_skeleton(self) -> None:
        if self.path:
            _results.write_atomic(
                self.path,
                _results.skeleton(
                    self.fmt,
                    "The grader did not finish: it was interrupted or failed before writing "
                    "the results. Contact the course staff.",
                ),
            )

    def add(self, report: pytest.TestReport) -> None:
        entry = self.entries.setdefault(
            report.nodeid,
            {"meta": None, "duration": 0.0, "failed": False, "passed_call": False, "output": []},
        )
        for key, value in report.user_properties:
            if key == _PROP:
                entry["meta"] = json.loads(str(value))
        entry["duration"] += float(getattr(report, "duration", 0.0) or 0.0)
        if report.failed:
            entry["failed"] = True
            text = _failure_text(report)
            crash = getattr(report.longrepr, "reprcrash", None)
            deliberate = crash is not None and str(crash.message).startswith("Failed:")
            if report.when != "call" and not deliberate:
                text = f"error in {report.when}: {text}"
            entry["output"].append(text)
        elif report.skipped:
            entry["failed"] = True
            reason = (
                report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            )
            entry["output"].append(f"not run: {reason}")
        elif report.when == "call" and report.passed:
            entry["passed_call"] = True

    def results(self) -> list[_results.PropertyResult]:
        out: list[tuple[tuple[int, str], _results.PropertyResult]] = []
        for nodeid in self.collected - set(self.entries):
            self.entries[nodeid] = {
                "meta": None,
                "duration": 0.0,
                "failed": True,
                "passed_call": False,
                "output": ["did not run: the grader stopped before this test"],
            }
        for nodeid, entry in self.entries.items():
            meta = entry["meta"] or {}
            passed = entry["passed_call"] and not entry["failed"]
            result = _results.PropertyResult(
                nodeid=nodeid,
                name=nodeid.rsplit("::", 1)[-1],
                property_id=meta.get("property"),
                description=meta.get("description", ""),
                passed=passed,
                points=float(meta.get("points", 1.0)),
                bonus=bool(meta.get("bonus", False)),
                required=bool(meta.get("required", False)),
                hidden=meta.get("hidden"),
                output=_results.cap_output("\n".join(entry["output"])),
                duration=round(entry["duration"], 3),
            )
            out.append(((int(meta.get("order", 10**6)), nodeid), result))
        for nodeid, text in self.collect_errors.items():
            out.append(
                (
                    (-1, nodeid),
                    _results.PropertyResult(
                        nodeid=nodeid,
                        name=f"could not load {nodeid}",
                        points=0.0,
                        passed=False,
                        output=_results.cap_output(text),
                    ),
                )
            )
        ordered = [r for _, r in sorted(out, key=lambda pair: pair[0])]
        for number, result in enumerate(ordered, 1):
            result.number = str(number)
        return ordered


_XDIST_HEADER = re.compile(r"^\[gw\d+\] .* -- Python .*\n?")


def _failure_text(report: pytest.TestReport) -> str:
    text = _XDIST_HEADER.sub("", report.longreprtext or "", count=1)
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and "Traceback" in text and len(text) > 1500:
        # An unexpected exception (a grader bug or an instructor's assert): keep the message.
        text = f"{crash.message}\n(at {crash.path}:{crash.lineno})"
    return text.strip()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    config = _active_config
    if config is None or _is_worker(config):
        return
    collector = config.stash.get(_COLLECTOR_KEY, None)
    if collector is not None:
        collector.add(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    config = _active_config
    if config is None or _is_worker(config) or not report.failed:
        return
    collector = config.stash.get(_COLLECTOR_KEY, None)
    if collector is not None:
        collector.collect_errors[report.nodeid or "<collection>"] = str(report.longreprtext)


def pytest_collection_finish(session: pytest.Session) -> None:
    collector = session.config.stash.get(_COLLECTOR_KEY, None)
    if collector is not None:
        collector.collected.update(item.nodeid for item in session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    collector = node.config.stash.get(_COLLECTOR_KEY, None)
    if collector is not None:
        collector.collected.update(ids)


_active_config: pytest.Config | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _active_config
    _active_config = session.config


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _active_config
    config = session.config
    collector = config.stash.get(_COLLECTOR_KEY, None)
    if collector is None or _is_worker(config):
        return
    results = collector.results()
    config.stash[RESULTS_KEY] = results
    if collector.path:
        gconf = config.stash[_CONFIG_KEY]
        header = f"{gconf.role or 'tests'}: {gconf.command_text()}" if gconf.command else ""
        text = "\n".join(_results.render_text(results, header=header))
        _results.write_atomic(
            collector.path,
            _results.render(
                collector.fmt,
                results,
                execution_time=time.monotonic() - collector.started,
                output=text if collector.fmt == "prairielearn" else "",
            ),
        )
    if _active_config is config:
        _active_config = None


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS_KEY, None)
    gconf = config.stash.get(_CONFIG_KEY, None)
    if not results or gconf is None or not gconf.command:
        return
    terminalreporter.write_sep("=", f"grading: {gconf.role or 'own tests'}")
    for line in _results.render_text(results):
        terminalreporter.write_line(line)
    path = config.getoption("unixipc_results")
    if path:
        terminalreporter.write_line(f"results written to {path}")


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def grading_config(pytestconfig: pytest.Config) -> GradingConfig:
    """The grading run's configuration (role, command, limits, formats)."""
    return pytestconfig.stash[_CONFIG_KEY]


class ProgramFactory:
    """Starts the student program for the current test (see the ``student_program_factory``
    fixture)."""

    def __init__(self, request: pytest.FixtureRequest, gconf: GradingConfig) -> None:
        self.request = request
        self.gconf = gconf
        self.role = getattr(request.module, "UNIXIPC_ROLE", None) or gconf.role
        prop = request.node.get_closest_marker("ipc_property")
        self.property_id = str(prop.args[0]) if prop and prop.args else None
        self.stack = contextlib.ExitStack()
        self.programs: list[StudentProgram] = []

    def socket_in_command(self) -> bool:
        return any("{socket}" in word for word in self.gconf.command)

    def __call__(
        self,
        *,
        wait: bool = True,
        socket_path: str | None = None,
        stale_socket: bool = False,
        stdin: bool = False,
        limits: Limits | None = None,
        before_start: Callable[[Path, str | None], None] | None = None,
        **values: str,
    ) -> StudentProgram:
        """Start the program in a fresh private directory and sandbox.

        ``socket_path`` replaces the default socket path (``<dir>/ipc.sock``, or the fixed
        ``--unixipc-socket`` name); ``stale_socket`` leaves a stale socket file there first;
        ``stdin`` gives the program a pipe as stdin; ``before_start(dir, socket_path)`` may
        create files or sockets;
        other keywords override placeholder values.  With ``wait`` (and a role whose program
        listens) it returns once the program listens, else it fails the test with feedback.
        """
        gconf = self.gconf
        if not gconf.command:
            pytest.skip("no student program configured (--unixipc-program)")
        gate = gate_failure(gconf)
        if gate is not None and self.request.node.get_closest_marker("grade_required") is None:
            pytest.fail(
                f"not graded: the required property {gate} failed, so this one was not tried",
                pytrace=False,
            )
        workdir = self.stack.enter_context(ipc_tmp_dir())
        os.chmod(workdir, 0o755)
        if socket_path is None:
            name = "ipc.sock" if self.socket_in_command() else gconf.socket_name
            socket_path = str(workdir / name) if name else None
        vals = dict(gconf.values)
        vals["socket"] = socket_path or ""
        vals["file"] = str(workdir / "input.txt")
        vals.update(values)
        if stale_socket and socket_path:
            _make_stale_socket(socket_path)
        if before_start is not None:
            before_start(workdir, socket_path)
        argv = substitute(gconf.command, vals)
        try:
            proc = self.stack.enter_context(
                run_program(
                    argv,
                    workdir,
                    limits or gconf.limits,
                    user=gconf.user,
                    stdin_pipe=stdin,
                    sandbox_tag=gconf.sandbox_tag,
                )
            )
        except SandboxError as exc:
            pytest.fail(f"could not start the program: {exc}", pytrace=False)
        program = StudentProgram(
            proc,
            workdir=workdir,
            socket_path=socket_path,
            values=vals,
            argv=argv,
            config=gconf,
            property_id=self.property_id,
        )
        self.stack.callback(program.close_sockets)
        self.programs.append(program)
        role = ROLES.get(self.role or "")
        if wait and role is not None and role.listens and socket_path:
            program.await_listening(role.listens)
        return program

    def close(self) -> None:
        self.stack.close()


def _make_stale_socket(path: str) -> None:
    """Leave a socket file at ``path`` that nothing listens on (bound, then closed)."""
    import socket as _socket

    with _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) as sock:
        sock.bind(path)


@pytest.fixture
def student_program_factory(
    request: pytest.FixtureRequest, grading_config: GradingConfig
) -> Iterator[ProgramFactory]:
    """Start the student's program: ``student_program_factory(wait=True, socket_path=None,
    stale_socket=False, stdin=False, **placeholder_values)`` -> StudentProgram.

    Each call runs a fresh process in a fresh private directory, in its own session and
    process group, with resource limits, its output captured; when the program's role creates
    a socket, the call returns once it listens (``wait_listening``).  At teardown every process
    it started is killed and reaped.
    """
    factory = ProgramFactory(request, grading_config)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def student_program(student_program_factory: ProgramFactory) -> StudentProgram:
    """The student's program, started with the default placeholder values and (for roles
    whose program creates a socket) listening; killed and reaped at teardown."""
    return student_program_factory()


@pytest.fixture
def student_client(student_program: StudentProgram) -> Callable[..., Any]:
    """Connect clients to the running student program: ``student_client(kind="stream")`` ->
    a connected socket (stream, seqpacket, or a connected dgram socket), closed at teardown."""

    def connect(kind: str = "stream") -> Any:
        return student_program.connect(kind)

    return connect
