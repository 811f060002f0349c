"""Connected AF_UNIX pairs and bound datagram sockets (socketpair(2), unix(7))."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

from pytest_unixipc.kinds import socket_type
from pytest_unixipc.paths import check_sun_path

__all__ = ["bound_dgram_socket", "socketpair", "unlink_quietly"]


def _configure(sock: socket.socket, nonblocking: bool, timeout: float | None) -> None:
    if nonblocking and timeout is not None:
        raise ValueError("nonblocking=True and a timeout exclude each other")
    if nonblocking:
        sock.setblocking(False)
    elif timeout is not None:
        sock.settimeout(timeout)


@contextlib.contextmanager
def socketpair(
    kind: str = "stream", *, nonblocking: bool = False, timeout: float | None = None
) -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected AF_UNIX pair of the given kind ("stream", "dgram" or "seqpacket").

    Both ends are closed on exit.
    """
    a, b = socket.socketpair(socket.AF_UNIX, socket_type(kind))
    try:
        for end in (a, b):
            _configure(end, nonblocking, timeout)
        yield a, b
    finally:
        a.close()
        b.close()


def unlink_quietly(path: str) -> None:
    """Remove ``path`` if it still exists."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def bound_dgram_socket(
    path: str, *, nonblocking: bool = False, timeout: float | None = None
) -> Iterator[socket.socket]:
    """A SOCK_DGRAM socket bound at ``path``; the socket is closed and the file unlinked on exit."""
    check_sun_path(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        _configure(sock, nonblocking, timeout)
        sock.bind(path)
        try:
            yield sock
        finally:
            unlink_quietly(path)  # only a path we bound ourselves
    finally:
        sock.close()
