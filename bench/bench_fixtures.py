"""Benchmark: what the unix_socketpair fixture costs a test run, against raw socketpair().

Generates two test directories of the same shape: N tests that each take ``unix_socketpair``
and send/receive one byte, and N tests that make ``socket.socketpair()`` themselves (and close
it).  Runs each with ``python -m pytest -p no:cacheprovider -q`` in a subprocess several times,
alternating the two, and prints the median wall time of each, the ratio (target: at most
1.3x) and the peak RSS of each run.

Peak RSS comes from wait4(2)'s rusage for that one child.  resource.getrusage(RUSAGE_CHILDREN)
gives the same number only for the first child: it is the maximum over every child waited for
so far.

    python bench/bench_fixtures.py            # 2000 tests, 5 runs each
    python bench/bench_fixtures.py --quick    # 500 tests, 2 runs each
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.3
PER_FILE = 100

FIXTURE_TEST = """
def test_{n}(unix_socketpair):
    a, b = unix_socketpair
    a.send(b"x")
    assert b.recv(1) == b"x"
"""

RAW_TEST = """
def test_{n}():
    a, b = socket.socketpair()
    try:
        a.send(b"x")
        assert b.recv(1) == b"x"
    finally:
        a.close()
        b.close()
"""


def generate(root: Path, tests: int, body: str, header: str) -> Path:
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")  # this directory is the rootdir, no addopts
    for start in range(0, tests, PER_FILE):
        count = min(PER_FILE, tests - start)
        source = header + "".join(body.format(n=start + i) for i in range(count))
        (root / f"test_gen_{start // PER_FILE:03d}.py").write_text(source)
    return root


def run_once(directory: Path, tests: int) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB on Linux) of one pytest run over ``directory``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(directory)]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or f"{tests} passed" not in output:
        raise SystemExit(f"the run over {directory} failed:\n{output[-3000:]}")
    return elapsed, usage.ru_maxrss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=2000, help="tests per variant (2000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per variant (5)")
    parser.add_argument("--quick", action="store_true", help="500 tests, 2 runs per variant")
    args = parser.parse_args(argv)
    tests, runs = (500, 2) if args.quick else (args.tests, args.runs)
    with tempfile.TemporaryDirectory(prefix="bench-fixtures-") as tmp:
        variants = {
            "unix_socketpair fixture": generate(Path(tmp, "fixture"), tests, FIXTURE_TEST, ""),
            "raw socket.socketpair()": generate(
                Path(tmp, "raw"), tests, RAW_TEST, "import socket\n"
            ),
        }
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in variants}
        for directory in variants.values():  # warm-up: imports, page cache, .pyc
            run_once(directory, tests)
        for _ in range(runs):
            for name, directory in variants.items():
                results[name].append(run_once(directory, tests))
    print(f"{tests} tests per run, {runs} runs per variant, python {sys.version.split()[0]}")
    print(f"{'variant':<26} {'median':>9} {'min':>9} {'max':>9} {'peak RSS':>11}")
    medians = {}
    for name, samples in results.items():
        walls = [wall for wall, _ in samples]
        rss = statistics.median(r for _, r in samples)
        medians[name] = statistics.median(walls)
        print(
            f"{name:<26} {medians[name]:>8.2f}s {min(walls):>8.2f}s {max(walls):>8.2f}s "
            f"{rss / 1024:>8.1f} MiB"
        )
    fixture, raw = medians.values()
    ratio = fixture / raw
    verdict = "ok" if ratio <= TARGET else "OVER TARGET"
    print(
        f"fixture / raw = {ratio:.2f}x (target <= {TARGET}x: {verdict}); "
        f"{(fixture - raw) / tests * 1e6:.0f} us per test"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
