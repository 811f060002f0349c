"""Socket options of AF_UNIX sockets: identity options, buffer sizes and their effect.

Identity options run over every pair kind; buffer defaults are measured per socket type and
recorded as limits ("SO_SNDBUF default (stream)" ...).
"""

from __future__ import annotations

import socket
import struct

import pytest

from pytest_unixipc import socket_type
from pytest_unixipc.pair_kinds import PairKind, all_kinds, fill, outcome, stream_kinds

ALL = all_kinds()
TYPES = ("stream", "dgram", "seqpacket")


def _opt(sock: socket.socket, name: int) -> int:
    return sock.getsockopt(socket.SOL_SOCKET, name)


def _proc_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


@pytest.mark.ipc_property("sockopt.so-type", ref="socket(7) SO_TYPE")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_so_type(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """SO_TYPE reports the socket type on both ends, whichever way they were connected
    (socket(7): SO_TYPE "Gets the socket type as an integer (e.g., SOCK_STREAM)")."""
    with kind.open(ipc_tmp_path) as pair:
        types = [_opt(s, socket.SO_TYPE) for s in pair]
    assert types == [kind.type, kind.type], f"{kind}: SO_TYPE {types}"


@pytest.mark.ipc_property("sockopt.so-domain", ref="socket(7) SO_DOMAIN, SO_PROTOCOL")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_so_domain(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """SO_DOMAIN reports AF_UNIX and SO_PROTOCOL 0 on both ends (socket(7): SO_DOMAIN
    "Retrieves the socket domain as an integer", since Linux 2.6.32; FreeBSD has both options;
    macOS has neither)."""
    domain = getattr(socket, "SO_DOMAIN", None)
    protocol = getattr(socket, "SO_PROTOCOL", None)
    if domain is None or protocol is None:
        observed = "unavailable"
    else:
        with kind.open(ipc_tmp_path) as pair:
            values = {(_opt(s, domain), _opt(s, protocol)) for s in pair}
        observed = "AF_UNIX, 0" if values == {(socket.AF_UNIX, 0)} else f"{values}"
    ipc_record.expect(
        observed,
        portable="AF_UNIX, 0",
        linux="AF_UNIX, 0",
        freebsd="AF_UNIX, 0",
        darwin="unavailable",
    )


@pytest.mark.ipc_property("sockopt.acceptconn", ref="socket(7) SO_ACCEPTCONN, listen(2)")
@pytest.mark.parametrize("kind", ALL, ids=str)
def test_acceptconn(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """SO_ACCEPTCONN is 0 on connected ends, whether made by socketpair() or by accept()
    (socket(7): SO_ACCEPTCONN "Returns a value indicating whether or not this socket has been
    marked to accept connections with listen(2)"); stream.accept-new-fd checks the listener."""
    with kind.open(ipc_tmp_path) as pair:
        values = [_opt(s, socket.SO_ACCEPTCONN) for s in pair]
    assert values == [0, 0], f"{kind}: SO_ACCEPTCONN {values} on connected ends"


@pytest.mark.ipc_property("sockopt.buffer-defaults", ref="socket(7) SO_SNDBUF, SO_RCVBUF")
@pytest.mark.parametrize("sock_kind", TYPES)
def test_buffer_defaults(ipc_record, sock_kind: str) -> None:
    """The default SO_SNDBUF and SO_RCVBUF of a new AF_UNIX socket (socket(7): "The default
    value is set by the /proc/sys/net/core/wmem_default file"; rmem_default likewise).  FreeBSD
    takes them from net.local.{stream,dgram,seqpacket}.{sendspace,recvspace}."""
    with socket.socket(socket.AF_UNIX, socket_type(sock_kind)) as sock:
        sndbuf = _opt(sock, socket.SO_SNDBUF)
        rcvbuf = _opt(sock, socket.SO_RCVBUF)
    ipc_record.limit(f"SO_SNDBUF default ({sock_kind})", sndbuf, "bytes")
    ipc_record.limit(f"SO_RCVBUF default ({sock_kind})", rcvbuf, "bytes")
    assert sndbuf > 0
    assert rcvbuf > 0
    wmem = _proc_int("/proc/sys/net/core/wmem_default")
    rmem = _proc_int("/proc/sys/net/core/rmem_default")
    linux = f"{wmem}, {rmem}" if wmem is not None and rmem is not None else None
    ipc_record.expect(f"{sndbuf}, {rcvbuf}", linux=linux, note="SO_SNDBUF, SO_RCVBUF")


@pytest.mark.ipc_property("sockopt.sndbuf-doubled", ref="socket(7) SO_SNDBUF")
def test_sndbuf_doubled(ipc_record) -> None:
    """Setting SO_SNDBUF to n reads back 2n on Linux, which doubles the value "to allow space
    for bookkeeping overhead" (socket(7)); the BSDs and macOS read back n."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
        value = _opt(sock, socket.SO_SNDBUF)
    ipc_record.expect(
        str(value),
        portable="32768",
        linux="65536",
        freebsd="32768",
        darwin="32768",
        note="SO_SNDBUF read back after setting 32768",
    )


@pytest.mark.ipc_property("sockopt.sndbuf-minimum", ref="socket(7) SO_SNDBUF")
def test_sndbuf_minimum(ipc_record) -> None:
    """A tiny SO_SNDBUF is raised to a minimum (socket(7): "The minimum (doubled) value for
    this option is 2048"); the socket keeps working."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)
        value = _opt(sock, socket.SO_SNDBUF)
    ipc_record.observe("SO_SNDBUF after setting 1", value)
    ipc_record.expect(
        "at least 2048" if value >= 2048 else str(value),
        linux="at least 2048",
        note="SO_SNDBUF read back after setting 1",
    )


@pytest.mark.ipc_property("sockopt.sndbuf-effect", ref="socket(7) SO_SNDBUF; asterinas#2904")
@pytest.mark.parametrize("kind", stream_kinds(), ids=str)
def test_sndbuf_effect(ipc_record, ipc_tmp_path, kind: PairKind) -> None:
    """SO_SNDBUF bounds how much a stream sender can queue: with a small send buffer far fewer
    bytes are accepted before send() fails with EAGAIN than with the default (socket(7):
    SO_SNDBUF "Sets or gets the maximum socket send buffer in bytes").  Least portable of the
    buffer properties (some kernels ignore SO_SNDBUF on AF_UNIX)."""
    with kind.open(ipc_tmp_path) as pair:
        _, default_bytes = fill(pair.a, b"s" * 512)
    with kind.open(ipc_tmp_path) as pair:
        pair.a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        _, small_bytes = fill(pair.a, b"s" * 512)
    ipc_record.observe("bytes queued: default / SO_SNDBUF=8192", [default_bytes, small_bytes])
    assert 0 < small_bytes < default_bytes // 4, (
        f"{kind}: SO_SNDBUF=8192 queued {small_bytes} bytes vs {default_bytes} by default"
    )


@pytest.mark.ipc_property("sockopt.timeo-roundtrip", ref="socket(7) SO_RCVTIMEO, SO_SNDTIMEO")
def test_timeo_roundtrip(ipc_record) -> None:
    """SO_RCVTIMEO and SO_SNDTIMEO take a struct timeval and read back the value set (Linux
    stores it in clock ticks, so a value is rounded up to the tick; whole multiples of 10 ms
    read back exactly); the default is zero, meaning "never time out" (socket(7))."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        size = struct.calcsize("@ll")
        default = struct.unpack("@ll", sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, size))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ll", 2, 500_000))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("@ll", 0, 200_000))
        rcv = struct.unpack("@ll", sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, size))
        snd = struct.unpack("@ll", sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, size))
    ipc_record.observe("read back", {"default": default, "rcv": rcv, "snd": snd})
    assert default == (0, 0), f"default SO_RCVTIMEO is {default}"
    assert rcv == (2, 500_000), f"SO_RCVTIMEO read back {rcv}"
    assert snd == (0, 200_000), f"SO_SNDTIMEO read back {snd}"


@pytest.mark.ipc_property("sockopt.unknown-option", ref="getsockopt(2)")
def test_unknown_option(ipc_record) -> None:
    """An unknown option name at SOL_SOCKET fails with ENOPROTOOPT (getsockopt(2): "ENOPROTOOPT
    The option is unknown at the level indicated")."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        observed = outcome(sock.getsockopt, socket.SOL_SOCKET, 0x7FFF)
    assert observed == "ENOPROTOOPT", f"getsockopt of an unknown option gave {observed}"
