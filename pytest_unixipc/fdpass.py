"""Passing descriptors with SCM_RIGHTS (unix(7), cmsg(3), sendmsg(2), recvmsg(2))."""

from __future__ import annotations

import array
import contextlib
import socket
from collections.abc import Iterable, Iterator

from pytest_unixipc.fdowner import OwnedFds
from pytest_unixipc.sockets import socketpair

__all__ = ["FdChannel", "fd_channel", "recv_fds", "send_fds"]


def send_fds(sock: socket.socket, fds: Iterable[int], data: bytes = b"\0") -> int:
    """Send ``data`` with one SCM_RIGHTS message carrying ``fds``; return bytes sent.

    On a stream socket Linux delivers the descriptors only with at least one byte of data,
    hence the default of one NUL byte (unix(7)).
    """
    fds = list(fds)
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
    return sock.sendmsg([data], ancillary if fds else [])


def recv_fds(
    sock: socket.socket, maxfds: int, bufsize: int = 4096, flags: int = 0
) -> tuple[bytes, list[int], int]:
    """Receive one message and up to ``maxfds`` descriptors: (data, fds, msg_flags).

    Every descriptor the kernel installed is returned, also any beyond ``maxfds`` that fit the
    rounded-up control buffer, so the caller can close them all.
    """
    if maxfds < 0:
        raise ValueError(f"maxfds must be >= 0, got {maxfds}")
    item = array.array("i").itemsize
    data, ancdata, msg_flags, _ = sock.recvmsg(bufsize, socket.CMSG_SPACE(maxfds * item), flags)
    fds: list[int] = []
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % item
            fds.extend(array.array("i", payload[:usable]))
    return data, fds, msg_flags


class FdChannel:
    """A connected pair for passing descriptors; received descriptors are closed on exit."""

    def __init__(self, sender: socket.socket, receiver: socket.socket) -> None:
        self.sender = sender
        self.receiver = receiver
        self.received: list[int] = []
        self._owned = OwnedFds()

    def send_fds(self, fds: Iterable[int], data: bytes = b"\0") -> int:
        """Send ``fds`` from the sending end (see :func:`send_fds`)."""
        return send_fds(self.sender, fds, data)

    def recv_fds(self, maxfds: int, bufsize: int = 4096) -> tuple[bytes, list[int], int]:
        """Receive at the receiving end; the descriptors are tracked and closed on exit."""
        data, fds, flags = recv_fds(self.receiver, maxfds, bufsize)
        self.received.extend(fds)
        self._owned.add(*fds)
        return data, fds, flags

    def close_received(self) -> None:
        """Close the received descriptors the caller has not closed (and the number reused)."""
        self._owned.close_all()
        self.received.clear()


@contextlib.contextmanager
def fd_channel(kind: str = "stream", *, timeout: float | None = 5.0) -> Iterator[FdChannel]:
    """A socketpair of ``kind`` for SCM_RIGHTS; ends and received descriptors closed on exit."""
    with socketpair(kind, timeout=timeout) as (a, b):
        channel = FdChannel(a, b)
        try:
            yield channel
        finally:
            channel.close_received()
