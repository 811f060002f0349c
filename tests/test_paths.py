"""Short private socket directories and the sun_path limit (pytest_unixipc.paths)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from pytest_unixipc import SUN_PATH_MAX, PathAllocator, SunPathTooLong, check_sun_path, ipc_tmp_dir
from pytest_unixipc.paths import default_socket_root


def test_sun_path_max_is_the_platform_size() -> None:
    assert (108 if sys.platform.startswith("linux") else 104) == SUN_PATH_MAX


def test_check_sun_path_accepts_the_longest_path_that_fits() -> None:
    check_sun_path("/" + "x" * (SUN_PATH_MAX - 2))  # plus its NUL: exactly SUN_PATH_MAX bytes


def test_check_sun_path_error_names_limit_and_length() -> None:
    path = "/" + "x" * (SUN_PATH_MAX - 1)
    with pytest.raises(SunPathTooLong) as raised:
        check_sun_path(path)
    error = raised.value
    assert isinstance(error, ValueError)
    assert (error.length, error.limit, error.path) == (SUN_PATH_MAX, SUN_PATH_MAX, path)
    message = str(error)
    assert f"socket path is {SUN_PATH_MAX} bytes" in message
    assert f"sun_path holds at most {SUN_PATH_MAX - 1}" in message
    assert f"sizeof(sun_path) = {SUN_PATH_MAX}" in message
    assert "--unixipc-sock-root" in message


def test_check_sun_path_counts_bytes_not_characters() -> None:
    path = "/" + "é" * (SUN_PATH_MAX // 2)  # two bytes each in UTF-8
    with pytest.raises(SunPathTooLong, match=f"is {1 + 2 * (SUN_PATH_MAX // 2)} bytes"):
        check_sun_path(path)
    check_sun_path(Path("/" + "é" * ((SUN_PATH_MAX - 2) // 2)))


def test_ipc_tmp_dir_is_private_short_and_removed_with_its_contents() -> None:
    with ipc_tmp_dir() as path:
        st = path.stat()
        assert stat.S_ISDIR(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o700
        assert path.name.startswith("uxipc-")
        check_sun_path(path / ("n" * 24))
        (path / "sub").mkdir()
        (path / "sub" / "file").write_text("x")
    assert not path.exists()


def test_ipc_tmp_dir_is_removed_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError, match="body failed"), ipc_tmp_dir() as path:  # noqa: PT012
        (path / "file").write_text("x")
        raise RuntimeError("body failed")
    assert not path.exists()


def test_ipc_tmp_dirs_are_unique() -> None:
    with ipc_tmp_dir() as one, ipc_tmp_dir() as two:
        assert one != two


def test_ipc_tmp_dir_carries_the_xdist_worker_id(
    monkeypatch: pytest.MonkeyPatch, ipc_tmp_path: Path
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    with ipc_tmp_dir(str(ipc_tmp_path)) as path:
        assert path.parent == ipc_tmp_path
        assert path.name.startswith("uxipc-gw7-")
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    with ipc_tmp_dir(str(ipc_tmp_path)) as path:
        assert not path.name.startswith("uxipc-gw")


def test_ipc_tmp_dir_under_a_too_long_root_fails_and_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / ("r" * max(1, SUN_PATH_MAX - len(os.fsencode(tmp_path))))
    root.mkdir()
    with pytest.raises(SunPathTooLong, match="sun_path holds at most"), ipc_tmp_dir(str(root)):
        pytest.fail("the body must not run")
    assert list(root.iterdir()) == []


def test_ipc_tmp_dir_missing_root(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match="does not exist"), ipc_tmp_dir(str(missing)):
        pytest.fail("the body must not run")


def test_default_socket_root(monkeypatch: pytest.MonkeyPatch, ipc_tmp_path: Path) -> None:
    monkeypatch.setenv("PYTEST_UNIXIPC_SOCK_ROOT", str(ipc_tmp_path))
    assert default_socket_root() == str(ipc_tmp_path)
    monkeypatch.delenv("PYTEST_UNIXIPC_SOCK_ROOT")
    assert default_socket_root() == "/tmp"


def test_path_allocator_gives_fresh_paths(ipc_tmp_path: Path) -> None:
    allocate = PathAllocator(ipc_tmp_path, prefix="t")
    first = allocate()
    assert first == str(ipc_tmp_path / "t0.sock")
    Path(first).touch()
    (ipc_tmp_path / "t1.sock").touch()
    assert allocate() == str(ipc_tmp_path / "t2.sock")  # skips what exists
    assert allocate(".fifo") == str(ipc_tmp_path / "t3.fifo")
    for path in ipc_tmp_path.iterdir():
        path.unlink()


def test_path_allocator_refuses_paths_that_do_not_fit(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * max(1, SUN_PATH_MAX - len(os.fsencode(tmp_path))))
    with pytest.raises(SunPathTooLong):
        PathAllocator(deep)()
