"""``unixipc-conformance``: run the installed conformance suite and print the platform report.

Usage: ``unixipc-conformance [pytest args...]`` (``-n 2``, ``-k``, ``--unixipc-report PATH``,
``--hypothesis-profile unixipc-thorough`` ... pass through to pytest).  The exit status is
pytest's: non-zero when a property fails.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "suite_dir"]

#: Per-test backstop (pytest-timeout, when installed); properties bound their own waits far
#: below it and fail with a message naming the step.
_BACKSTOP_SECONDS = 120


def suite_dir() -> Path:
    """Where the suite is: inside the installed package, else beside it in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conformance", here.parent / "conformance"):
        if (candidate / "conftest.py").is_file():
            return candidate
    raise FileNotFoundError(
        f"the conformance suite is missing: looked in {here / 'conformance'} and "
        f"{here.parent / 'conformance'}; reinstall pytest-unixipc"
    )


def build_args(argv: Sequence[str], suite: Path) -> list[str]:
    """The pytest command line for ``argv``: the suite, its own ini, the report always on."""
    args = [
        "-c",
        str(suite / "conformance.ini"),
        "--rootdir",
        str(suite),
        "--unixipc-summary=on",
        # This command imported pytest_unixipc before pytest started, so pytest cannot
        # rewrite the plugin's asserts (it has none that need it); say nothing about that.
        "-W",
        "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning",
    ]
    if importlib.util.find_spec("pytest_timeout") is not None and not any(
        a == "--timeout" or a.startswith("--timeout=") for a in argv
    ):
        args.append(f"--timeout={_BACKSTOP_SECONDS}")
    if not any(_names_a_path(a) for a in argv):
        args.append(str(suite))
    return args + list(argv)


def _wants_xdist(argv: Sequence[str]) -> bool:
    return any(
        a in ("-n", "--numprocesses", "--dist")
        or a.startswith(("--numprocesses=", "--dist="))
        or (a.startswith("-n") and a[2:].isdigit())
        for a in argv
    )


def _names_a_path(arg: str) -> bool:
    return not arg.startswith("-") and "::" in arg


def main(argv: Sequence[str] | None = None) -> int:
    import pytest

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
    if _wants_xdist(argv) and importlib.util.find_spec("xdist") is None:
        print(
            "unixipc-conformance: -n runs the suite in parallel with pytest-xdist, which is not "
            "installed: pip install pytest-xdist (or pytest-unixipc[test])",
            file=sys.stderr,
        )
        return 2
    try:
        suite = suite_dir()
    except FileNotFoundError as exc:
        print(f"unixipc-conformance: {exc}", file=sys.stderr)
        return 2
    return int(pytest.main(build_args(argv, suite)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
