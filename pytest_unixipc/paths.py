"""Short, private directories for socket files, and the sun_path limit (unix(7)).

``sockaddr_un.sun_path`` is 108 bytes on Linux and 104 on macOS and the BSDs, including the
terminating NUL for portable use.  pytest's ``tmp_path`` easily exceeds that (long basetemp,
test names, xdist worker directories), so socket directories live under a short root
(``/tmp`` by default) instead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "SUN_PATH_MAX",
    "PathAllocator",
    "SunPathTooLong",
    "check_sun_path",
    "default_socket_root",
    "ipc_tmp_dir",
]

#: ``sizeof(sockaddr_un.sun_path)`` on this platform (unix(7); <sys/un.h> on the BSDs).
SUN_PATH_MAX: int = 108 if sys.platform.startswith("linux") else 104

#: Room a socket directory must leave for file names inside it.
_NAME_ROOM = 24


class SunPathTooLong(ValueError):
    """A path does not fit in ``sun_path``."""

    def __init__(self, path: str | os.PathLike[str], length: int, limit: int) -> None:
        self.path = os.fspath(path)
        self.length = length
        self.limit = limit
        super().__init__(
            f"socket path is {length} bytes but sun_path holds at most {limit - 1} "
            f"(sizeof(sun_path) = {limit} including the NUL on {sys.platform}): {self.path!r}. "
            "Use a shorter directory, e.g. --unixipc-sock-root=/tmp"
        )


def check_sun_path(path: str | os.PathLike[str]) -> None:
    """Raise :class:`SunPathTooLong` unless ``path`` plus its NUL fits in ``sun_path``."""
    length = len(os.fsencode(path))
    if length + 1 > SUN_PATH_MAX:
        raise SunPathTooLong(path, length, SUN_PATH_MAX)


def default_socket_root() -> str:
    """The short root for socket directories: $PYTEST_UNIXIPC_SOCK_ROOT, else /tmp."""
    env = os.environ.get("PYTEST_UNIXIPC_SOCK_ROOT")
    if env:
        return env
    if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK | os.X_OK):
        return "/tmp"
    return tempfile.gettempdir()


def _worker_tag() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"{worker}-" if worker else ""


@contextlib.contextmanager
def ipc_tmp_dir(root: str | None = None) -> Iterator[Path]:
    """A private (0700) directory with a short path, removed with its contents on exit.

    The name carries the pytest-xdist worker id, so parallel workers never collide.
    Raises :class:`SunPathTooLong` if ``root`` leaves too little room for socket names.
    """
    base = root if root is not None else default_socket_root()
    if not os.path.isdir(base):
        raise FileNotFoundError(f"socket root directory {base!r} does not exist")
    path = tempfile.mkdtemp(prefix=f"uxipc-{_worker_tag()}", dir=base)
    try:
        os.chmod(path, 0o700)
        probe = os.path.join(path, "x" * _NAME_ROOM)
        check_sun_path(probe)
        yield Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


class PathAllocator:
    """Hands out fresh, not-yet-existing socket paths inside one directory."""

    def __init__(self, directory: str | os.PathLike[str], prefix: str = "s") -> None:
        self.directory = os.fspath(directory)
        self.prefix = prefix
        self._counter = itertools.count()

    def __call__(self, suffix: str = ".sock") -> str:
        while True:
            path = os.path.join(self.directory, f"{self.prefix}{next(self._counter)}{suffix}")
            if not os.path.lexists(path):
                check_sun_path(path)
                return path
