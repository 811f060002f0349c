"""getsockname(2)/getpeername(2) on AF_UNIX sockets in each state.

Python returns an AF_UNIX address as ``str`` (pathname), ``bytes`` starting with NUL (Linux
abstract name) or ``""``/None (unnamed: "its length is sizeof(sa_family_t)", unix(7)).
"""

from __future__ import annotations

import socket

import pytest

from pytest_unixipc import socket_type
from pytest_unixipc.pair_kinds import (
    ADDRESS_CREATORS,
    PairKind,
    all_kinds,
    bound_address,
    errno_name,
    outcome,
    reversals,
)

ALL = all_kinds()
TYPES = ("stream", "dgram", "seqpacket")
UNNAMED = ("", None)


def _same(observed: object, expected: object) -> bool:
    if expected in UNNAMED:
        return observed in UNNAMED
    return observed == expected


@pytest.mark.ipc_property("sockname.pair-addresses", ref="getsockname(2), getpeername(2), unix(7)")
@pytest.mark.parametrize("kind", reversals(ALL), ids=str)
def test_pair_addresses(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """Each end's getsockname() is its own address and getpeername() the other end's:
    socketpair() ends and unbound clients are unnamed, bound and accepted sockets carry the
    bound path or abstract name (getsockname(2), getpeername(2), unix(7) "Address format")."""
    with kind.open(ipc_tmp_path) as pair:
        seen = {
            "a.getsockname": pair.a.getsockname(),
            "a.getpeername": pair.a.getpeername(),
            "b.getsockname": pair.b.getsockname(),
            "b.getpeername": pair.b.getpeername(),
        }
        expected = {
            "a.getsockname": pair.addr_a,
            "a.getpeername": pair.addr_b,
            "b.getsockname": pair.addr_b,
            "b.getpeername": pair.addr_a,
        }
    ipc_record.observe("addresses", {k: repr(v) for k, v in seen.items()})
    wrong = {k: (seen[k], v) for k, v in expected.items() if not _same(seen[k], v)}
    assert not wrong, f"{kind}: (observed, expected) {wrong}"


@pytest.mark.ipc_property("sockname.unbound", ref="unix(7), getsockname(2)")
@pytest.mark.parametrize("sock_kind", TYPES)
def test_unbound(ipc_record, sock_kind: str) -> None:
    """A new socket that was never bound is unnamed: getsockname() returns an address of only
    the family (unix(7): "unnamed: A stream socket that has not been bound ... has no name";
    Python shows "" on Linux, None on some BSDs)."""
    with socket.socket(socket.AF_UNIX, socket_type(sock_kind)) as sock:
        name = sock.getsockname()
    ipc_record.observe("getsockname", repr(name))
    assert name in UNNAMED, f"an unbound {sock_kind} socket is named {name!r}"


@pytest.mark.ipc_property("sockname.unconnected-peer", ref="getpeername(2)")
@pytest.mark.parametrize("sock_kind", TYPES)
def test_unconnected_peer(ipc_record, sock_kind: str) -> None:
    """getpeername() on a socket that is not connected fails with ENOTCONN (getpeername(2):
    "ENOTCONN The socket is not connected")."""
    with socket.socket(socket.AF_UNIX, socket_type(sock_kind)) as sock:
        observed = outcome(sock.getpeername)
    assert observed == "ENOTCONN", f"getpeername on an unconnected {sock_kind} gave {observed}"


@pytest.mark.ipc_property("sockname.listener", ref="getsockname(2), getpeername(2), listen(2)")
@pytest.mark.parametrize("creator", ADDRESS_CREATORS)
@pytest.mark.parametrize("sock_kind", ["stream", "seqpacket"])
def test_listener(ipc_record, ipc_tmp_path, creator: str, sock_kind: str) -> None:
    """A listening socket's getsockname() is the address it was bound to, and it has no peer:
    getpeername() fails with ENOTCONN (getsockname(2), getpeername(2))."""
    with (
        bound_address(creator, ipc_tmp_path) as address,
        socket.socket(socket.AF_UNIX, socket_type(sock_kind)) as listener,
    ):
        listener.bind(address)
        listener.listen(1)
        name = listener.getsockname()
        peer = outcome(listener.getpeername)
    assert name == address, f"the listener reports {name!r}, bound to {address!r}"
    assert peer == "ENOTCONN", f"getpeername on a listener gave {peer}"


@pytest.mark.ipc_property("sockname.after-peer-close", ref="getpeername(2), unix(7)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_after_peer_close(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """After the peer closes, getpeername() on Linux still returns the address the peer had
    (the connection is remembered until this end disconnects or a send notices); POSIX leaves it
    open (getpeername(2))."""
    with kind.open(ipc_tmp_path) as pair:
        pair.b.close()
        try:
            peer = pair.a.getpeername()
            observed = "the peer's address" if _same(peer, pair.addr_b) else repr(peer)
        except OSError as exc:
            observed = errno_name(exc)
    ipc_record.expect(observed, linux="the peer's address")
