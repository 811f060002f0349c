"""Inner suite for -n 2 and a long --basetemp: short, unique socket directories per test and
per worker, and a forked peer inside a worker."""

from __future__ import annotations

import os
import socket

import pytest

from pytest_unixipc import SUN_PATH_MAX, SunPathTooLong, check_sun_path


@pytest.mark.parametrize("n", range(6))
def test_short_unique_dir(n, ipc_tmp_path, unix_socket_path, tmp_path, remember):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    remember("ipc_tmp_path", str(ipc_tmp_path), worker=worker, tmp_path=str(tmp_path))
    remember("path", str(ipc_tmp_path))
    if worker:
        assert ipc_tmp_path.name.startswith(f"uxipc-{worker}-")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(unix_socket_path)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(ipc_tmp_path / ("n" * 24)))
    os.unlink(unix_socket_path)
    os.unlink(ipc_tmp_path / ("n" * 24))
    beside_tmp_path = tmp_path / "s.sock"
    if len(os.fsencode(beside_tmp_path)) >= SUN_PATH_MAX:
        with pytest.raises(SunPathTooLong, match=f"sun_path holds at most {SUN_PATH_MAX - 1}"):
            check_sun_path(beside_tmp_path)


def worker_name(sock: socket.socket) -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "")


def test_fork_inside_worker(forked_peer, remember):
    peer = forked_peer(worker_name)
    remember("pid", peer.pid)
    assert peer.join(timeout=10) == os.environ.get("PYTEST_XDIST_WORKER", "")
