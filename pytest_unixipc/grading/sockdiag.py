"""Which process holds the other end of a Unix domain socket connection?

``sock_diag(7)``: a NETLINK_SOCK_DIAG request ``SOCK_DIAG_BY_FAMILY`` for AF_UNIX with
``UDIAG_SHOW_PEER`` returns, for each Unix socket, its inode and the inode of its peer
(attribute ``UNIX_DIAG_PEER``).  ``/proc/net/unix`` has no peer column, so it cannot answer
this.  The inode of our client socket is ``fstat(fd).st_ino``; its peer's inode is the
server-side socket; the processes holding that socket are those with a descriptor whose
``/proc/<pid>/fd`` link reads ``socket:[INODE]`` (``proc(5)``).

Linux only (sock_diag exists since 3.3); :func:`peer_inode` returns None elsewhere or when the
request is refused, and the caller reports that it could not tell.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Iterable

__all__ = ["holders", "peer_inode"]

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_UDIAG_SHOW_PEER = 0x4
_UNIX_DIAG_PEER = 2
_NLMSG_HDR = struct.Struct("=IHHII")
# struct unix_diag_req: family, protocol, pad, states, ino, show, cookie[2]
_REQ = struct.Struct("=BBHIIIII")
# struct unix_diag_msg: family, type, state, pad, ino, cookie[2]
_MSG = struct.Struct("=BBBBIII")
_ATTR = struct.Struct("=HH")


def _align(n: int) -> int:
    return (n + 3) & ~3


def peer_inode(sock: socket.socket) -> int | None:
    """The inode of the socket connected to ``sock`` (an AF_UNIX socket), or None."""
    own = os.fstat(sock.fileno()).st_ino
    try:
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_SOCK_DIAG)
    except (OSError, AttributeError):
        return None
    with nl:
        nl.settimeout(2.0)
        req = _REQ.pack(
            socket.AF_UNIX, 0, 0, 0xFFFFFFFF, 0, _UDIAG_SHOW_PEER, 0xFFFFFFFF, 0xFFFFFFFF
        )
        hdr = _NLMSG_HDR.pack(
            _NLMSG_HDR.size + len(req), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0
        )
        try:
            nl.sendto(hdr + req, (0, 0))
        except OSError:
            return None
        found: int | None = None
        while True:
            try:
                data = nl.recv(1 << 16)
            except OSError:
                return found
            offset = 0
            while offset + _NLMSG_HDR.size <= len(data):
                length, kind, _flags, _seq, _pid = _NLMSG_HDR.unpack_from(data, offset)
                if length < _NLMSG_HDR.size:
                    return found
                if kind in (_NLMSG_DONE, _NLMSG_ERROR):
                    return found
                body = offset + _NLMSG_HDR.size
                _fam, _type, _state, _pad, ino, _c1, _c2 = _MSG.unpack_from(data, body)
                if ino == own:
                    found = _peer_attr(data, body + _MSG.size, offset + length)
                offset += _align(length)


def _peer_attr(data: bytes, start: int, end: int) -> int | None:
    pos = start
    while pos + _ATTR.size <= end:
        length, kind = _ATTR.unpack_from(data, pos)
        if length < _ATTR.size:
            break
        if kind == _UNIX_DIAG_PEER and length >= _ATTR.size + 4:
            return int(struct.unpack_from("=I", data, pos + _ATTR.size)[0])
        pos += _align(length)
    return None


def holders(inode: int, pids: Iterable[int]) -> list[int]:
    """Which of ``pids`` hold a descriptor for the socket with this inode."""
    target = f"socket:[{inode}]"
    out = []
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        out.append(pid)
                        break
    return sorted(out)
