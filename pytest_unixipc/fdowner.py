"""Closing only descriptors that are still ours.

A test may close a descriptor a fixture handed it; the number can then be reused by anything
(another fixture, pytest itself).  Teardown must not close that newcomer, so each descriptor is
remembered with the identity of its open file (device, inode, file type), checked with fstat()
before closing.
"""

from __future__ import annotations

import contextlib
import os
import stat

__all__ = ["OwnedFds", "fd_identity"]

FdIdentity = tuple[int, int, int]


def fd_identity(fd: int) -> FdIdentity | None:
    """(st_dev, st_ino, file type) of ``fd``'s open file, or None if ``fd`` is not open."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino, stat.S_IFMT(st.st_mode)


class OwnedFds:
    """Descriptors this owner opened or received, closed by :meth:`close_all` if still theirs."""

    def __init__(self) -> None:
        self._owned: dict[int, FdIdentity] = {}

    def add(self, *fds: int) -> None:
        for fd in fds:
            identity = fd_identity(fd)
            if identity is not None:
                self._owned[fd] = identity

    def __contains__(self, fd: object) -> bool:
        return fd in self._owned

    def close_all(self) -> None:
        owned, self._owned = self._owned, {}
        for fd, identity in owned.items():
            if fd_identity(fd) == identity:
                with contextlib.suppress(OSError):
                    os.close(fd)
