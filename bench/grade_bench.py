"""Grade every sample student program (tests/students/*.c) and print the wall time of each.

    python bench/grade_bench.py [--timeout SECONDS] [-n N] [--only NAME ...]

Compiles the samples with the system's cc into a temporary directory, then runs
``unixipc-grade`` on each with the role's default command, and prints one line per sample:
its name, role, time, exit status, properties failed, and whether that is the expected set.
Goals: under 10 s for a correct program, under 30 s for a hostile one (default limits).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "grading"))

from samples import SAMPLES, command, compile_all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", default=None, help="per-property limit (default: grader's)")
    parser.add_argument("-n", dest="workers", default=None, help="pytest-xdist workers")
    parser.add_argument("--only", nargs="+", default=None, help="sample names")
    ns = parser.parse_args()
    worst = 0
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as tmp:
        built = compile_all(Path(tmp))
        print(f"{'sample':28} {'role':15} {'time':>7}  exit  expected  failed")
        total = 0.0
        for sample in SAMPLES:
            if ns.only and sample.name not in ns.only:
                continue
            results = Path(tmp) / f"{sample.name}.json"
            argv = [sys.executable, "-m", "pytest_unixipc.grading.cli", sample.role]
            argv += ["--json", str(results)]
            if ns.timeout:
                argv += ["--timeout", ns.timeout]
            if ns.workers:
                argv += ["-n", ns.workers]
            argv += ["--", *command(sample, built[sample.name])]
            started = time.monotonic()
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
            elapsed = time.monotonic() - started
            total += elapsed
            doc = json.loads(results.read_text())
            failed = {t["name"].split(":")[0] for t in doc["tests"] if t["status"] == "failed"}
            ok = failed == set(sample.fails) and proc.returncode == sample.exit_status
            limit = 30.0 if sample.fails else 10.0
            worst = max(worst, 0 if ok and elapsed < limit else 1)
            names = ", ".join(sorted(f.split(".", 1)[1] for f in failed)) or "-"
            print(
                f"{sample.name:28} {sample.role:15} {elapsed:6.1f}s  {proc.returncode:>4}  "
                f"{'yes' if ok else 'NO':>8}  {names}"
            )
        print(f"total {total:.1f} s")
    return worst


if __name__ == "__main__":
    sys.exit(main())
