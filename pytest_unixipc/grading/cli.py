"""``unixipc-grade ROLE [options] -- COMMAND [ARG ...]``: grade a student program.

A thin layer over ``pytest.main()`` on the role's rubric module with the grading plugin's
options.  It prints a per-property report with the score, writes the results file, and exits
0 when every required (non-bonus) property passed, 1 when one failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from pytest_unixipc.grading import results as _results
from pytest_unixipc.grading.program import DEFAULT_REGEXES, REGEX_GROUPS
from pytest_unixipc.grading.roles import PLACEHOLDERS, ROLES, RubricEntry, rubric

__all__ = ["main"]

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_INI = "[pytest]\n"


class UsageError(Exception):
    """A problem with how unixipc-grade was called (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> _Parser:
    p = _Parser(
        prog="unixipc-grade",
        usage="unixipc-grade ROLE [options] -- COMMAND [ARG ...]",
        description="Grade a student's Unix IPC program against the contract of its role. "
        "Placeholders {socket} {size} {message} {count} {file} {workers} in the command are "
        "replaced by the grader. Roles: "
        + ", ".join(f"{r.name} ({r.usage})" for r in ROLES.values()),
    )
    p.add_argument("role", metavar="ROLE", help="one of: " + ", ".join(ROLES))
    p.add_argument("--json", metavar="PATH", help="write the results file here")
    p.add_argument(
        "--format",
        choices=_results.FORMATS,
        default="gradescope",
        help="results file format (default gradescope)",
    )
    p.add_argument(
        "--socket",
        metavar="NAME",
        help="socket name the program uses (relative to its directory) when the "
        "command has no {socket}",
    )
    p.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=3.0,
        help="wall-clock limit per property (default 3)",
    )
    p.add_argument(
        "--points",
        metavar="ID=N",
        nargs="+",
        action="extend",
        default=[],
        help="points for properties (default 1 each)",
    )
    p.add_argument(
        "--hidden",
        metavar="ID[=VISIBILITY]",
        nargs="+",
        action="extend",
        default=[],
        help="hide properties from students (visibility hidden, after_due_date, "
        "after_published; default hidden)",
    )
    p.add_argument(
        "--regex",
        metavar="NAME=REGEX",
        action="append",
        default=[],
        help="course output format; names: " + ", ".join(DEFAULT_REGEXES),
    )
    p.add_argument(
        "--limit",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="sandbox limits: cpu, files, procs, fsize, as, output",
    )
    p.add_argument("--user", metavar="USER", help="run the program as USER (needs root)")
    p.add_argument(
        "--tests",
        metavar="PATH",
        action="append",
        default=[],
        help="also run the instructor's own test file or directory",
    )
    p.add_argument(
        "-n", "--numprocesses", metavar="N", help="grade properties in parallel with pytest-xdist"
    )
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="only properties matching EXPR")
    p.add_argument("--junitxml", metavar="PATH", help="also write JUnit XML")
    p.add_argument(
        "--pytest-arg",
        metavar="ARG",
        action="append",
        default=[],
        help="pass ARG to pytest (repeatable)",
    )
    p.add_argument("--sandbox-tag", metavar="TAG", help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output")
    return p


def _split(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    args = list(argv)
    if "--" not in args:
        raise UsageError("missing '-- COMMAND [ARG ...]' after the options")
    i = args.index("--")
    return args[:i], args[i + 1 :]


def _check_command(role: str, command: list[str], socket_name: str | None) -> list[str]:
    if not command:
        raise UsageError("no command after '--'")
    offered = ROLES[role].placeholders
    seen = set()
    for word in command:
        for name in _PLACEHOLDER.findall(word):
            if name not in PLACEHOLDERS:
                raise UsageError(
                    f"unknown placeholder {{{name}}} in {word!r} (placeholders: "
                    + " ".join(f"{{{n}}}" for n in PLACEHOLDERS)
                    + ")"
                )
            if name not in offered:
                raise UsageError(
                    f"placeholder {{{name}}} is not used by role {role} (it offers "
                    + " ".join(f"{{{n}}}" for n in offered)
                    + ")"
                )
            seen.add(name)
    if "socket" in offered and "socket" not in seen and not socket_name:
        raise UsageError(
            "the command has no {socket}: give the socket name the program uses with --socket NAME"
        )
    program = command[0]
    if "{" in program:
        raise UsageError(f"the program name {program!r} cannot contain a placeholder")
    if "/" in program:
        path = os.path.abspath(program)
        if not os.path.exists(path):
            raise _ProgramError(f"the program {program} does not exist")
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            raise _ProgramError(f"the program {program} is not executable (chmod +x?)")
    else:
        found = shutil.which(program)
        if found is None:
            raise _ProgramError(f"the program {program} was not found on PATH")
        path = program
    words = [path]
    for word in command[1:]:
        # Files named relative to where the grader was called, e.g. `python3 server.py`: the
        # program runs in a private directory, so make them absolute.
        if "{" not in word and not word.startswith("-") and os.path.isfile(word):
            words.append(os.path.abspath(word))
        else:
            words.append(word)
    return words


class _ProgramError(UsageError):
    """The program is missing or not executable: a usage error that still gets a results
    file listing every property as failed."""


def _check_pairs(option: str, items: list[str], known: dict[str, Any] | None = None) -> None:
    for item in items:
        key, sep, _ = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{option}: expected NAME=VALUE, got {item!r}")
        if known is not None and key not in known:
            raise UsageError(f"{option}: unknown name {key!r} (known: {', '.join(known)})")


def _check_options(ns: argparse.Namespace, entries: list[RubricEntry]) -> None:
    ids = {e.property_id: e for e in entries}
    _check_pairs("--points", ns.points)
    for item in ns.points:
        key, _, value = item.partition("=")
        if key not in ids and not ns.tests:
            raise UsageError(f"--points: {key!r} is not a property of role {ns.role}")
        try:
            float(value)
        except ValueError:
            raise UsageError(f"--points: {value!r} is not a number") from None
    for item in ns.hidden:
        key, _, value = item.partition("=")
        if key not in ids and not ns.tests:
            raise UsageError(f"--hidden: {key!r} is not a property of role {ns.role}")
        if value not in ("", "hidden", "after_due_date", "after_published", "visible"):
            raise UsageError(f"--hidden: unknown visibility {value!r}")
    _check_pairs("--regex", ns.regex, dict(DEFAULT_REGEXES))
    for item in ns.regex:
        key, _, value = item.partition("=")
        try:
            rx = re.compile(value)
        except re.error as exc:
            raise UsageError(f"--regex {key}: {exc}") from None
        for group in REGEX_GROUPS[key]:
            if group not in rx.groupindex:
                raise UsageError(f"--regex {key}: needs a named group (?P<{group}>...)")
    _check_pairs(
        "--limit", ns.limit, dict.fromkeys(("cpu", "files", "procs", "fsize", "as", "output"))
    )
    if not ns.timeout > 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if ns.user is not None:
        if os.geteuid() != 0:
            raise UsageError("--user needs the grader to run as root")
        import pwd

        try:
            pwd.getpwnam(ns.user)
        except KeyError:
            if not ns.user.isdigit():
                raise UsageError(f"--user: no such user {ns.user!r}") from None
    if ns.numprocesses is not None and importlib.util.find_spec("xdist") is None:
        raise UsageError("-n needs pytest-xdist (pip install pytest-xdist)")
    for path in ns.tests:
        if not os.path.exists(path):
            raise UsageError(f"--tests: {path} does not exist")


def _inaccessible(path: str, user: str) -> str | None:
    """Why ``user`` could not execute ``path`` (a directory on the way not searchable, the
    file not executable by it), or None.  Checks the permission bits (path_resolution(7))."""
    import pwd
    import stat

    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        uid = gid = int(user)
    real = os.path.realpath(path)
    parts = real.split("/")
    for i in range(2, len(parts) + 1):
        here = "/".join(parts[:i])
        st = os.stat(here)
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            what = "executable" if here == real else "searchable"
            return f"{here} is not {what} by user {user}"
    return None


def _failed_rubric(
    entries: list[RubricEntry], points: dict[str, float], why: str
) -> list[_results.PropertyResult]:
    out = []
    for number, e in enumerate(entries, 1):
        out.append(
            _results.PropertyResult(
                nodeid=e.test_name,
                name=e.test_name,
                property_id=e.property_id,
                description=e.description,
                passed=False,
                points=points.get(e.property_id, e.points),
                bonus=e.bonus,
                required=e.required,
                hidden=e.hidden,
                output=f"not graded: {why}",
                number=str(number),
            )
        )
    return out


def _points(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        with contextlib.suppress(ValueError):
            out[key] = float(value)
    return out


def _pytest_args(
    ns: argparse.Namespace, command: list[str], ini: str, state_dir: str, results_path: str
) -> list[str]:
    role = ROLES[ns.role]
    spec = importlib.util.find_spec(role.module_name)
    assert spec is not None
    assert spec.origin is not None
    module_path = spec.origin
    args = [
        module_path,
        *[os.path.abspath(t) for t in ns.tests],
        "-c",
        ini,
        "--rootdir",
        os.path.dirname(module_path),
        "-p",
        "no:cacheprovider",
        *plugin_args(),
        "-q",
        "--continue-on-collection-errors",
        "--tb=short",
        "--no-header",
        "-rN",
        "--unixipc-role",
        ns.role,
        "--unixipc-program",
        json.dumps(command),
        "--unixipc-timeout",
        str(ns.timeout),
        "--unixipc-results",
        results_path,
        "--unixipc-results-format",
        ns.format,
        "--unixipc-state-dir",
        state_dir,
        "--unixipc-summary",
        "off",
    ]
    if ns.socket:
        args += ["--unixipc-socket", ns.socket]
    for item in ns.points:
        args += ["--unixipc-points", item]
    for item in ns.regex:
        args += ["--unixipc-regex", item]
    for item in ns.hidden:
        args += ["--unixipc-hidden", item]
    for item in ns.limit:
        args += ["--unixipc-limit", item]
    if ns.user:
        args += ["--unixipc-user", ns.user]
    if ns.sandbox_tag:
        args += ["--unixipc-sandbox-tag", ns.sandbox_tag]
    if ns.numprocesses is not None:
        args += ["-n", str(ns.numprocesses)]
    if ns.keyword:
        args += ["-k", ns.keyword]
    if ns.junitxml:
        args += ["--junitxml", os.path.abspath(ns.junitxml)]
    if importlib.util.find_spec("pytest_timeout") is not None:
        # A backstop only: every wait of a property is bounded by --timeout already.
        args += ["-o", f"timeout={ns.timeout * 3 + 30:g}"]
    args += ns.pytest_arg
    return args


PLUGIN = "pytest_unixipc.grading.plugin"


def plugin_args() -> list[str]:
    """``-p pytest_unixipc.grading.plugin`` unless pytest loads it already through the
    ``pytest11`` entry point (registering it twice would be an error)."""
    from importlib.metadata import entry_points

    if any(ep.value == PLUGIN for ep in entry_points(group="pytest11")):
        return []
    return ["-p", PLUGIN]


class _Grab:
    """A pytest plugin object that takes the results from the grading plugin at the end."""

    def __init__(self) -> None:
        self.results: list[_results.PropertyResult] | None = None

    def pytest_unconfigure(self, config: Any) -> None:
        from pytest_unixipc.grading.plugin import RESULTS_KEY

        self.results = config.stash.get(RESULTS_KEY, None)


class _Captured:
    text = ""


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[_Captured]:
    """Send what pytest prints (descriptor 1) to a temporary file; keep it for errors."""
    captured = _Captured()
    if not enabled:
        yield captured
        return
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            yield captured
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            tmp.seek(0)
            captured.text = tmp.read().decode("utf-8", "replace")


def _write(path: str | None, text: str) -> None:
    if path:
        _results.write_atomic(path, text)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    json_path = _peek_option(argv, "--json")
    fmt = _peek_option(argv, "--format") or "gradescope"
    if fmt not in _results.FORMATS:
        fmt = "gradescope"
    try:
        if argv and argv[0] in ("-h", "--help"):
            _parser().print_help()
            return 0
        options, command = _split(argv)
        ns = _parser().parse_args(options)
        if ns.role not in ROLES:
            raise UsageError(f"unknown role {ns.role!r} (roles: {', '.join(ROLES)})")
        entries = rubric(ns.role)
        _check_options(ns, entries)
        if ns.json:
            try:
                _write(ns.json, _results.skeleton(fmt, "The grader did not finish."))
            except OSError as exc:
                json_path = None  # nothing can be written there
                raise UsageError(f"--json: cannot write {ns.json}: {exc.strerror}") from None
        try:
            command = _check_command(ns.role, command, ns.socket)
            if ns.user is not None and "/" in command[0]:
                why = _inaccessible(command[0], ns.user)
                if why is not None:
                    raise _ProgramError(f"the program cannot be run as {ns.user}: {why}")
        except _ProgramError as exc:
            _write(
                json_path,
                _results.skeleton(
                    fmt,
                    f"Not graded: {exc}.",
                    _failed_rubric(entries, _points(ns.points), str(exc)),
                ),
            )
            raise
    except UsageError as exc:
        print(f"unixipc-grade: error: {exc}", file=sys.stderr)
        if json_path and not isinstance(exc, _ProgramError):
            with contextlib.suppress(OSError):
                _write(json_path, _results.skeleton(fmt, f"Not graded: {exc}."))
        return 2
    return _run(ns, command, entries, started)


def _peek_option(argv: list[str], name: str) -> str | None:
    """An option's value before full parsing (so a results file can be written even for a
    usage error)."""
    options = argv[: argv.index("--")] if "--" in argv else argv
    for i, word in enumerate(options):
        if word == name and i + 1 < len(options):
            return options[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def _run(
    ns: argparse.Namespace, command: list[str], entries: list[RubricEntry], started: float
) -> int:
    import pytest

    fmt = ns.format
    with tempfile.TemporaryDirectory(prefix="unixipc-grade-") as tmp:
        ini = os.path.join(tmp, "pytest.ini")
        with open(ini, "w") as f:
            f.write(_INI)
        state_dir = os.path.join(tmp, "state")
        os.mkdir(state_dir)
        results_path = os.path.abspath(ns.json) if ns.json else os.path.join(tmp, "results.json")
        args = _pytest_args(ns, command, ini, state_dir, results_path)
        grab = _Grab()
        try:
            with _quiet(not ns.verbose) as captured:
                code = int(pytest.main(args, plugins=[grab]))
        except Exception as exc:  # the grader itself failed: still leave a results file
            print(f"unixipc-grade: internal error: {exc!r}", file=sys.stderr)
            _write(ns.json, _results.skeleton(fmt, f"The grader failed: {exc!r}"))
            return 1
    results = grab.results
    if results is None or code in (2, 3, 4):
        sys.stdout.write(captured.text)
        print(f"unixipc-grade: the pytest run ended with status {code}", file=sys.stderr)
        if results is None:
            _write(ns.json, _results.skeleton(fmt, f"The grader failed (pytest status {code})."))
            return 1 if code != 4 else 2
    header = f"unixipc-grade {ns.role}: {' '.join(command)}"
    for line in _results.render_text(results, header=header):
        print(line)
    elapsed = time.monotonic() - started
    print(
        f"graded in {elapsed:.1f} s"
        + (f"; results written to {ns.json} ({fmt})" if ns.json else "")
    )
    if fmt == "autolab":
        # Autolab reads the autoresult from the last line of the driver's output.
        print(_results.autolab(results))
    tot = _results.totals(results)
    return 0 if tot.all_required_passed and results else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
