"""Benchmark: one forked-peer round trip (fork, the child returns a value, join).

Compares ``pytest_unixipc.forked_peer`` with the same round trip written by hand (socketpair +
os.fork + pickle + waitpid) and with ``multiprocessing.Process`` (fork context) + ``Pipe``.
Each operation is timed on its own; the table shows the median and the 10th/90th percentiles
per operation, and the ratios against the targets (forked_peer <= 1.3x the hand-written one
and <= 0.6x multiprocessing).

    python bench/bench_peer.py            # 400 round trips each
    python bench/bench_peer.py --quick    # 60 round trips each
    python bench/bench_peer.py -n 1000
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import pickle
import socket
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection

from pytest_unixipc import forked_peer

TARGET_VS_HAND = 1.3
TARGET_VS_MP = 0.6
VALUE = {"answer": 42, "text": "round trip"}


def child_value(sock: socket.socket) -> dict[str, object]:
    return VALUE


def with_forked_peer() -> None:
    with forked_peer(child_value) as peer:
        assert peer.join(timeout=10) == VALUE


def by_hand() -> None:
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # child
        try:
            parent.close()
            child.sendall(pickle.dumps(VALUE))
        finally:
            os._exit(0)
    child.close()
    chunks = []
    while chunk := parent.recv(65536):
        chunks.append(chunk)
    parent.close()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pickle.loads(b"".join(chunks)) == VALUE


def _mp_child(conn: Connection) -> None:
    conn.send(VALUE)
    conn.close()


_FORK = multiprocessing.get_context("fork")


def with_multiprocessing() -> None:
    receiver, sender = _FORK.Pipe(duplex=False)
    process = _FORK.Process(target=_mp_child, args=(sender,))
    process.start()
    sender.close()
    assert receiver.recv() == VALUE
    receiver.close()
    process.join()
    assert process.exitcode == 0
    process.close()


CASES: dict[str, Callable[[], None]] = {
    "forked_peer": with_forked_peer,
    "hand-written fork+socketpair+waitpid": by_hand,
    "multiprocessing (fork) Process+Pipe": with_multiprocessing,
}


def measure(n: int, rounds: int) -> dict[str, list[float]]:
    """Time every case ``n`` times, interleaved in ``rounds`` blocks so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in CASES}
    per_round = max(1, n // rounds)
    for _ in range(rounds):
        for name, case in CASES.items():
            for _ in range(3):  # warm-up of this block
                case()
            for _ in range(per_round):
                start = time.perf_counter()
                case()
                times[name].append(time.perf_counter() - start)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=400, help="round trips per case (default 400)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved blocks (default 4)")
    parser.add_argument("--quick", action="store_true", help="60 round trips per case")
    args = parser.parse_args(argv)
    n = 60 if args.quick else args.n
    warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads, 3.12+
    gc.collect()
    times = measure(n, args.rounds)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"forked-peer round trip, {n} per case, python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cpus"
    )
    print(f"{'case':<40} {'median':>10} {'p10':>10} {'p90':>10}")
    for name, values in times.items():
        print(
            f"{name:<40} {medians[name] * 1e6:>8.0f}us {percentile(values, 0.1) * 1e6:>8.0f}us "
            f"{percentile(values, 0.9) * 1e6:>8.0f}us"
        )
    peer, hand, mp = medians.values()
    vs_hand, vs_mp = peer / hand, peer / mp
    ok_hand = "ok" if vs_hand <= TARGET_VS_HAND else "OVER TARGET"
    ok_mp = "ok" if vs_mp <= TARGET_VS_MP else "OVER TARGET"
    print(
        f"forked_peer / hand-written     = {vs_hand:.2f}x (target <= {TARGET_VS_HAND}x: {ok_hand})"
    )
    print(f"forked_peer / multiprocessing  = {vs_mp:.2f}x (target <= {TARGET_VS_MP}x: {ok_mp})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
