"""Descriptor passing with SCM_RIGHTS (pytest_unixipc.fdpass)."""

from __future__ import annotations

import os
import socket

import pytest

from pytest_unixipc import fd_channel, recv_fds, send_fds, socketpair


def same_file(a: int, b: int) -> bool:
    sa, sb = os.fstat(a), os.fstat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


@pytest.mark.parametrize("kind", ["stream", "dgram", "seqpacket"])
def test_pass_a_pipe_end(kind: str) -> None:
    r, w = os.pipe()
    try:
        with socketpair(kind, timeout=5.0) as (a, b):
            assert send_fds(a, [w], b"data") == 4
            data, fds, flags = recv_fds(b, 1)
            try:
                assert (data, len(fds), flags) == (b"data", 1, 0)
                assert fds[0] not in (r, w)
                assert same_file(fds[0], w)
                os.write(fds[0], b"through the passed fd")
                assert os.read(r, 64) == b"through the passed fd"
            finally:
                close_all(fds)
    finally:
        close_all([r, w])


def test_several_descriptors_in_one_message() -> None:
    pipes = [os.pipe() for _ in range(3)]
    sent = [w for _, w in pipes]
    try:
        with socketpair() as (a, b):
            send_fds(a, sent)
            data, fds, _ = recv_fds(b, 3)
            try:
                assert data == b"\0"  # the default single byte carrying the descriptors
                assert [same_file(got, w) for got, w in zip(fds, sent, strict=True)] == [True] * 3
            finally:
                close_all(fds)
    finally:
        close_all([fd for pair in pipes for fd in pair])


def test_no_descriptors_is_plain_data() -> None:
    with socketpair() as (a, b):
        send_fds(a, [], b"plain")
        assert recv_fds(b, 4) == (b"plain", [], 0)


def test_too_small_a_buffer_truncates_and_returns_what_arrived() -> None:
    """With room for fewer descriptors than sent, MSG_CTRUNC is set; every descriptor the
    kernel did install is returned so the caller can close it."""
    pipes = [os.pipe() for _ in range(4)]
    try:
        with socketpair("seqpacket") as (a, b):
            send_fds(a, [w for _, w in pipes])
            _, fds, flags = recv_fds(b, 1)
            try:
                assert flags & socket.MSG_CTRUNC
                assert 1 <= len(fds) < 4
            finally:
                close_all(fds)
    finally:
        close_all([fd for pair in pipes for fd in pair])


def test_negative_maxfds() -> None:
    with socketpair() as (_, b), pytest.raises(ValueError, match="maxfds must be >= 0, got -1"):
        recv_fds(b, -1)


def test_fd_channel_closes_what_it_received() -> None:
    r, w = os.pipe()
    try:
        with fd_channel() as channel:
            assert channel.sender.gettimeout() == 5.0
            channel.send_fds([w, r])
            _, fds, _ = channel.recv_fds(2)
            assert channel.received == fds
            idents = [os.fstat(fd).st_ino for fd in fds]
        assert channel.received == []
        assert (channel.sender.fileno(), channel.receiver.fileno()) == (-1, -1)
        for fd, ino in zip(fds, idents, strict=True):
            try:
                reused = os.fstat(fd).st_ino == ino and fd not in (r, w)
            except OSError:
                reused = False
            assert not reused, f"received fd {fd} still open"
    finally:
        close_all([r, w])


def test_fd_channel_closes_received_descriptors_when_the_body_raises() -> None:
    r, w = os.pipe()
    close_all([r])
    try:
        with pytest.raises(RuntimeError), fd_channel("seqpacket") as channel:  # noqa: PT012
            channel.send_fds([w])
            _, (got,), _ = channel.recv_fds(1)
            raise RuntimeError("body failed")
        with pytest.raises(OSError):
            os.fstat(got)
    finally:
        close_all([w])


def test_fd_channel_tolerates_descriptors_the_body_closed() -> None:
    r, w = os.pipe()
    try:
        with fd_channel() as channel:
            channel.send_fds([w])
            _, (got,), _ = channel.recv_fds(1)
            os.close(got)
    finally:
        close_all([r, w])


def test_fd_channel_leaves_a_reused_descriptor_number_alone() -> None:
    """Regression: a received descriptor closed by the body, whose number open() then reused,
    was closed at exit: someone else's file."""
    r, w = os.pipe()
    try:
        with fd_channel() as channel:
            channel.send_fds([w])
            _, (got,), _ = channel.recv_fds(1)
            os.close(got)
            mine = os.open(os.devnull, os.O_RDONLY)
            assert mine == got  # the lowest free number (open(2))
        os.fstat(mine)  # still open
        os.close(mine)
    finally:
        close_all([r, w])
