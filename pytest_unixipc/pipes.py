"""Pipes and FIFOs (pipe(2), pipe(7), mkfifo(3), fifo(7))."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["fifo", "pipe_pair"]


@contextlib.contextmanager
def pipe_pair() -> Iterator[tuple[int, int]]:
    """A pipe as (read fd, write fd); both ends are closed on exit unless already closed."""
    r, w = os.pipe()
    try:
        yield r, w
    finally:
        for fd in (r, w):
            with contextlib.suppress(OSError):
                os.close(fd)


@contextlib.contextmanager
def fifo(path: str | os.PathLike[str], mode: int = 0o600) -> Iterator[str]:
    """A FIFO made by mkfifo() at ``path``; unlinked on exit."""
    path = os.fspath(path)
    os.mkfifo(path, mode)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
