"""pytest-unixipc: fixtures, a conformance suite and a grader for Unix IPC semantics.

Every resource the fixtures provide is also a context manager importable from here, for code
that cannot use a function-scoped fixture (hypothesis ``@given`` tests, plain scripts).
"""

from pytest_unixipc.classic import (
    PosixShm,
    SysVMessageQueue,
    named_semaphore,
    posix_mqueue,
    posix_shm,
    pshared_mutex,
    shared_anon_mapping,
    sysv_msgqueue,
    sysv_semaphore_set,
    sysv_shm_segment,
    unnamed_semaphore,
)
from pytest_unixipc.deadline import Deadline, wait_readable, wait_writable
from pytest_unixipc.fdpass import FdChannel, fd_channel, recv_fds, send_fds
from pytest_unixipc.kinds import SOCKET_KINDS, socket_type
from pytest_unixipc.paths import (
    SUN_PATH_MAX,
    PathAllocator,
    SunPathTooLong,
    check_sun_path,
    ipc_tmp_dir,
)
from pytest_unixipc.peer import ForkedPeer, PeerDied, PeerError, PeerTimeout, forked_peer
from pytest_unixipc.pipes import fifo, pipe_pair
from pytest_unixipc.readiness import NotListening, wait_listening
from pytest_unixipc.server import HandlerError, StreamServer, echo_handler, stream_server
from pytest_unixipc.sockets import bound_dgram_socket, socketpair

__version__ = "0.1.0"

__all__ = [
    "SOCKET_KINDS",
    "SUN_PATH_MAX",
    "Deadline",
    "FdChannel",
    "ForkedPeer",
    "HandlerError",
    "NotListening",
    "PathAllocator",
    "PeerDied",
    "PeerError",
    "PeerTimeout",
    "PosixShm",
    "StreamServer",
    "SunPathTooLong",
    "SysVMessageQueue",
    "bound_dgram_socket",
    "check_sun_path",
    "echo_handler",
    "fd_channel",
    "fifo",
    "forked_peer",
    "ipc_tmp_dir",
    "named_semaphore",
    "pipe_pair",
    "posix_mqueue",
    "posix_shm",
    "pshared_mutex",
    "recv_fds",
    "send_fds",
    "shared_anon_mapping",
    "socket_type",
    "socketpair",
    "stream_server",
    "sysv_msgqueue",
    "sysv_semaphore_set",
    "sysv_shm_segment",
    "unnamed_semaphore",
    "wait_listening",
    "wait_readable",
    "wait_writable",
]
