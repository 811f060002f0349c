"""Pipes and FIFOs (pipe(2), pipe(7), mkfifo(3), fifo(7))."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from pytest_unixipc.fdowner import OwnedFds

__all__ = ["fifo", "pipe_pair"]


@contextlib.contextmanager
def pipe_pair() -> Iterator[tuple[int, int]]:
    """A pipe as (read fd, write fd); on exit both ends are closed if they are still this pipe's.

    An end the caller closed is left alone even if its number was reused meanwhile.
    """
    r, w = os.pipe()
    owned = OwnedFds()
    owned.add(r, w)
    try:
        yield r, w
    finally:
        owned.close_all()


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
