"""The three AF_UNIX socket types, by the names the fixtures use (unix(7))."""

from __future__ import annotations

import socket

__all__ = ["SOCKET_KINDS", "socket_type"]

_TYPES: dict[str, int] = {
    "stream": socket.SOCK_STREAM,
    "dgram": socket.SOCK_DGRAM,
    "seqpacket": socket.SOCK_SEQPACKET,
}

#: The kind names accepted everywhere a ``kind`` argument is taken.
SOCKET_KINDS: tuple[str, ...] = tuple(_TYPES)


def socket_type(kind: str) -> int:
    """Map a kind name to its ``SOCK_*`` constant; ValueError names the valid kinds."""
    try:
        return _TYPES[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown socket kind {kind!r}: expected one of {', '.join(SOCKET_KINDS)}"
        ) from None
