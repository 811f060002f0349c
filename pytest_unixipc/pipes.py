"""Pipes and FIFOs (pipe(2), pipe(7), mkfifo(3), fifo(7))."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

__all__ = ["close_if_same", "fd_identity", "fifo", "pipe_pair"]

FdIdentity = tuple[int, int, int]


def fd_identity(fd: int) -> FdIdentity | None:
    """What ``fd`` refers to (device, inode, access mode), or None if it is not open."""
    try:
        st = os.fstat(fd)
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError:
        return None
    return st.st_dev, st.st_ino, mode


def close_if_same(fd: int, identity: FdIdentity | None) -> None:
    """Close ``fd`` only if it still refers to what it did when ``identity`` was taken.

    A descriptor the caller already closed may have been reused by the time cleanup runs
    (open(2) returns the lowest free number); closing it then would close someone else's file.
    """
    if identity is not None and fd_identity(fd) == identity:
        with contextlib.suppress(OSError):
            os.close(fd)


@contextlib.contextmanager
def pipe_pair() -> Iterator[tuple[int, int]]:
    """A pipe as (read fd, write fd); ends still open (not closed and reused) are closed on exit."""
    r, w = os.pipe()
    identities = [(fd, fd_identity(fd)) for fd in (r, w)]
    try:
        yield r, w
    finally:
        for fd, identity in identities:
            close_if_same(fd, identity)


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
