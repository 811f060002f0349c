"""The pytest plugin: options, markers, fixtures and the hooks that build the property report.

Fixtures are thin wrappers over the context managers in :mod:`pytest_unixipc`; everything a
script outside pytest needs lives there, not here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

# Fixtures for pipes' siblings (shared memory, semaphores, message queues) live in their own
# module; importing them here registers them with this plugin.
from pytest_unixipc.classic_fixtures import (  # noqa: F401
    named_semaphore,
    posix_mqueue,
    posix_shm,
    shared_anon_mapping,
    sysv_msgqueue,
)
from pytest_unixipc.fdpass import FdChannel

# Fixtures for pipes' siblings (shared memory, semaphores, message queues) live in their own
# module; importing them here registers them with this plugin.
from pytest_unixipc.fdpass import fd_channel as _fd_channel
from pytest_unixipc.kinds import socket_type
from pytest_unixipc.leaks import Leaks, Snapshot
from pytest_unixipc.paths import PathAllocator, check_sun_path, default_socket_root, ipc_tmp_dir
from pytest_unixipc.peer import DEFAULT_DEADLINE, ForkedPeer
from pytest_unixipc.pipes import fifo
from pytest_unixipc.pipes import pipe_pair as _pipe_pair
from pytest_unixipc.report.model import PROPERTY_KEY, Report
from pytest_unixipc.report.record import PropertyRecorder
from pytest_unixipc.report.writers import REPORT_SUFFIXES, render_text, write_report
from pytest_unixipc.server import Handler, StreamServer, handler_error
from pytest_unixipc.sockets import bound_dgram_socket, socketpair

_REPORT_KEY = pytest.StashKey[Report]()
_SNAPSHOT_KEY = pytest.StashKey[Snapshot]()
_IPC_DIR_KEY = pytest.StashKey[Path]()
_SERVERS_KEY = pytest.StashKey[list[StreamServer]]()
_LEAK_MARKER = "unixipc_leak_check"
_PROPERTY_MARKER = "ipc_property"
#: Fraction of the test's pytest-timeout given to a forked peer as its own deadline.
_PEER_SHARE = 0.8

import json as _json  # noqa: E402

# -- options, ini settings, markers --------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("unixipc", "Unix IPC fixtures and conformance report")
    group.addoption(
        "--unixipc-sock-root",
        metavar="DIR",
        default=None,
        help="short directory under which socket directories are made "
        "(default: $PYTEST_UNIXIPC_SOCK_ROOT, else /tmp); ini: unixipc_sock_root",
    )
    parser.addini("unixipc_sock_root", "short directory for socket directories", default="")
    group.addoption(
        "--unixipc-leak-check",
        action="store_true",
        default=None,
        help="fail tests that leave open descriptors, unreaped children or files in their IPC "
        "directory; ini: unixipc_leak_check",
    )
    parser.addini(
        "unixipc_leak_check", "enable the leak guard for every test", type="bool", default=False
    )
    group.addoption(
        "--unixipc-report",
        metavar="PATH",
        default=None,
        help="write the property report to PATH (.md for Markdown, .json for JSON)",
    )
    group.addoption(
        "--unixipc-summary",
        choices=("auto", "on", "off"),
        default="auto",
        help="terminal summary of property verdicts: auto (when properties ran), on, off",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ipc_property(id, *, ref): the IPC property (ID 'area.name') a test asserts and where it "
        "is documented; request the ipc_record fixture to put the ID in the node id",
    )
    config.addinivalue_line(
        "markers",
        f"{_LEAK_MARKER}: fail the test if it leaves open descriptors, unreaped children or files "
        "in its IPC directory",
    )
    path = config.getoption("unixipc_report")
    if path:
        target = Path(path)
        if target.suffix not in REPORT_SUFFIXES:
            raise pytest.UsageError(
                f"--unixipc-report: {path!r} must end in .md (Markdown) or .json (JSON)"
            )
        if not target.parent.is_dir():
            raise pytest.UsageError(
                f"--unixipc-report: directory {str(target.parent)!r} does not exist"
            )
    root = _sock_root(config)
    if root is not None and not os.path.isdir(root):
        raise pytest.UsageError(f"--unixipc-sock-root: {root!r} is not a directory")
    config.stash[_REPORT_KEY] = Report()


def _sock_root(config: pytest.Config) -> str | None:
    root = config.getoption("unixipc_sock_root") or config.getini("unixipc_sock_root")
    return str(root) if root else None


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# -- property IDs in node ids, and the report ---------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(_PROPERTY_MARKER)
    if marker is None or "ipc_record" not in metafunc.fixturenames:
        return
    prop_id = _marker_id(marker)
    metafunc.parametrize("ipc_record", [prop_id], ids=[prop_id], indirect=True)


def _marker_id(marker: pytest.Mark) -> str:
    if not marker.args or not isinstance(marker.args[0], str):
        raise pytest.UsageError(f"@pytest.mark.{_PROPERTY_MARKER} needs the property ID first")
    return marker.args[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker(_PROPERTY_MARKER)
        if marker is not None:
            entry = {"id": _marker_id(marker), "ref": str(marker.kwargs.get("ref", ""))}
            item.user_properties.append((PROPERTY_KEY, _json.dumps(entry)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Runs on the controller under xdist, with the worker's user_properties.
    config = _current_config
    if config is None or _is_xdist_worker(config):
        return
    message = ""
    if report.failed:
        message = _short_message(report)
    elif report.skipped and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2])
    config.stash[_REPORT_KEY].add_phase(
        report.nodeid, report.when, report.outcome, list(report.user_properties), message
    )


def _short_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    return str(report.longrepr).strip().splitlines()[-1] if report.longrepr else ""


_current_config: pytest.Config | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _current_config
    _current_config = session.config


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if _is_xdist_worker(config):
        return
    report = config.stash[_REPORT_KEY]
    report.finish_all()
    path = config.getoption("unixipc_report")
    if path:
        write_report(report, path)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    report = config.stash.get(_REPORT_KEY, None)
    mode = config.getoption("unixipc_summary")
    if report is None or mode == "off" or (mode == "auto" and not report):
        return
    terminalreporter.write_sep("=", "unix IPC properties")
    for line in render_text(report):
        terminalreporter.write_line(line)
    path = config.getoption("unixipc_report")
    if path:
        terminalreporter.write_line(f"report written to {path}")


def pytest_unconfigure(config: pytest.Config) -> None:
    global _current_config
    if _current_config is config:
        _current_config = None


# -- the leak guard -------------------------------------------------------------------------


def _leak_check_enabled(item: pytest.Item) -> bool:
    if item.get_closest_marker(_LEAK_MARKER) is not None:
        return True
    option = item.config.getoption("unixipc_leak_check")
    return bool(option) or bool(item.config.getini("unixipc_leak_check"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    # Taken after setup: descriptors of module- and session-scoped fixtures set up for this
    # test are not the test's leaks.
    if _leak_check_enabled(item):
        item.stash[_SNAPSHOT_KEY] = Snapshot.take()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    result = yield
    snapshot = item.stash.get(_SNAPSHOT_KEY, None)
    if snapshot is not None:
        del item.stash[_SNAPSHOT_KEY]
        leaks = snapshot.leaks_since()
        if leaks:
            raise LeakError(item.nodeid, leaks)
    return result


class LeakError(AssertionError):
    def __init__(self, nodeid: str, leaks: Leaks) -> None:
        super().__init__(f"leak guard: {nodeid} left resources behind:\n{leaks.describe()}")


# -- fixtures: directories and paths ---------------------------------------------------------


@pytest.fixture
def ipc_tmp_path(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A private (0700) directory with a path short enough for socket files.

    Unique per test and per pytest-xdist worker, made under ``--unixipc-sock-root`` (default
    ``/tmp``) rather than ``tmp_path``, whose paths overflow sun_path (108 bytes on Linux, 104
    on macOS).  Removed with its contents at teardown; with the leak guard on, files the test
    left in it fail the test.
    """
    with ipc_tmp_dir(_sock_root(request.config)) as path:
        yield path
        if _leak_check_enabled(request.node):
            left = sorted(p.name for p in path.iterdir())
            if left:
                shutil.rmtree(path, ignore_errors=True)
                raise LeakError(request.node.nodeid, Leaks(files=left))


@pytest.fixture
def unix_socket_path(ipc_tmp_path: Path) -> str:
    """A fresh socket path (str) in ``ipc_tmp_path``; it does not exist yet."""
    return PathAllocator(ipc_tmp_path)()


# -- fixtures: sockets ---------------------------------------------------------------------


class SocketpairFactory(Protocol):
    def __call__(
        self, kind: str = "stream", *, nonblocking: bool = False, timeout: float | None = None
    ) -> tuple[Any, Any]: ...


@pytest.fixture
def socketpair_factory() -> Iterator[SocketpairFactory]:
    """Make connected AF_UNIX pairs: ``socketpair_factory(kind="stream", *, nonblocking=False,
    timeout=None)``.

    ``kind`` is "stream", "dgram" or "seqpacket".  Every socket made is closed at teardown.
    For hypothesis ``@given`` tests use the context manager ``pytest_unixipc.socketpair``.
    """
    with contextlib.ExitStack() as stack:

        def make(
            kind: str = "stream", *, nonblocking: bool = False, timeout: float | None = None
        ) -> tuple[Any, Any]:
            return stack.enter_context(socketpair(kind, nonblocking=nonblocking, timeout=timeout))

        yield make


@pytest.fixture
def unix_socketpair(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    """A connected AF_UNIX stream pair (a, b), closed at teardown.

    Select another kind with
    ``@pytest.mark.parametrize("unix_socketpair", ["dgram", "seqpacket"], indirect=True)``.
    """
    kind = getattr(request, "param", "stream")
    with socketpair(kind) as pair:
        yield pair


@pytest.fixture
def unix_dgram_socket(ipc_tmp_path: Path) -> Iterator[Any]:
    """A SOCK_DGRAM socket bound at a fresh path (``sock.getsockname()``); closed and unlinked
    at teardown."""
    with bound_dgram_socket(PathAllocator(ipc_tmp_path, prefix="dgram")()) as sock:
        yield sock


class StreamServerFactory(Protocol):
    def __call__(
        self,
        handler: Handler | None = None,
        *,
        kind: str = "stream",
        backlog: int = 16,
        accept: bool = True,
    ) -> StreamServer: ...


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Report server handler failures with the test that was running when they happened.

    A handler that raised while the test body ran fails a test that passed, with the handler's
    traceback; a test that failed on its own gets the traceback added to its report (often
    the cause).  Failures after the body ended surface at teardown, when the server stops.
    """
    report = yield
    if call.when == "call":
        errors = _take_handler_errors(item)
        if errors and report.passed:
            report.outcome = "failed"
            error = handler_error(errors)
            report.longrepr = f"{type(error).__name__}: {error}"
        elif errors:
            report.sections.append(("Captured unixipc server handler call", "\n".join(errors)))
    return report


def _take_handler_errors(item: pytest.Item) -> list[str]:
    return [error for server in item.stash.get(_SERVERS_KEY, ()) for error in server.take_errors()]


@pytest.fixture
def stream_server_factory(
    request: pytest.FixtureRequest, ipc_tmp_path: Path
) -> Iterator[StreamServerFactory]:
    """Start listening servers: ``stream_server_factory(handler=None, *, kind="stream",
    backlog=16, accept=True)``.

    Each server listens on a fresh path and serves every connection with ``handler(conn)`` in
    a thread of its own (echo by default) until teardown.  ``accept=False`` listens without
    ever accepting, for backlog tests.  The server has ``.path``, ``.connect(nonblocking=False)``
    and ``.served``.  An exception raised by a handler fails the test with the handler's
    traceback (at teardown if it came after the test body).  At teardown servers stop and
    their files are removed.
    """
    from pytest_unixipc.server import stream_server

    servers = request.node.stash.setdefault(_SERVERS_KEY, [])
    with contextlib.ExitStack() as stack:

        def make(
            handler: Handler | None = None,
            *,
            kind: str = "stream",
            backlog: int = 16,
            accept: bool = True,
        ) -> StreamServer:
            server = stack.enter_context(
                stream_server(ipc_tmp_path, handler, kind=kind, backlog=backlog, accept=accept)
            )
            servers.append(server)
            return server

        yield make


@pytest.fixture
def unix_stream_server(stream_server_factory: StreamServerFactory) -> StreamServer:
    """A listening echo server on a fresh path (see ``stream_server_factory``)."""
    return stream_server_factory()


# -- fixtures: processes, descriptors, pipes -------------------------------------------------


class ForkedPeerFactory(Protocol):
    def __call__(
        self, target: Callable[..., object], *args: object, kind: str = "stream", **kw: Any
    ) -> ForkedPeer: ...


def _item_timeout(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("timeout")
    candidates: list[object] = []
    if marker is not None:
        candidates += [*marker.args[:1], marker.kwargs.get("timeout")]
    with contextlib.suppress(ValueError):
        candidates.append(item.config.getoption("timeout"))
    with contextlib.suppress(ValueError):
        candidates.append(item.config.getini("timeout"))
    for value in candidates:
        with contextlib.suppress(TypeError, ValueError):
            seconds = float(value)  # type: ignore[arg-type]
            if seconds > 0:
                return seconds
    return None


@pytest.fixture
def forked_peer(request: pytest.FixtureRequest) -> Iterator[ForkedPeerFactory]:
    """Fork peers: ``peer = forked_peer(target, *args, kind="stream", pass_fds=())``.

    The child runs ``target(sock, *args)`` on one end of a socketpair; the parent gets
    ``peer.sock``, ``peer.pid`` and ``peer.join(timeout)``, which returns the child's return
    value or raises its exception (with the child's traceback) or reports the signal or status
    that ended it ("peer pid N killed by SIGPIPE").  The child has its own process group,
    default signal handlers, no descriptors but its socket, stdout/stderr and ``pass_fds``, and
    a deadline below the test's pytest-timeout; it never runs pytest's teardown.  At teardown
    every peer's group is killed (SIGTERM, then SIGKILL) and reaped.
    """
    from pytest_unixipc.peer import forked_peer as make_peer

    timeout = _item_timeout(request.node)
    deadline = DEFAULT_DEADLINE if timeout is None else min(DEFAULT_DEADLINE, timeout * _PEER_SHARE)
    with contextlib.ExitStack() as stack:

        def make(
            target: Callable[..., object], *args: object, kind: str = "stream", **kw: Any
        ) -> ForkedPeer:
            socket_type(kind)
            kw.setdefault("deadline", deadline)
            return stack.enter_context(make_peer(target, *args, kind=kind, **kw))

        yield make


@pytest.fixture
def fd_channel(request: pytest.FixtureRequest) -> Iterator[FdChannel]:
    """A connected stream pair for SCM_RIGHTS: ``send_fds(fds, data=b"\\0")`` and
    ``recv_fds(maxfds)`` -> (data, fds, msg_flags).  Descriptors received through it, and both
    ends, are closed at teardown.  Parametrize indirectly with "dgram" or "seqpacket" for
    another socket kind."""
    with _fd_channel(getattr(request, "param", "stream")) as channel:
        yield channel


@pytest.fixture
def pipe_pair() -> Iterator[tuple[int, int]]:
    """A pipe as (read fd, write fd); ends still open at teardown are closed."""
    with _pipe_pair() as fds:
        yield fds


@pytest.fixture
def fifo_path(ipc_tmp_path: Path) -> Iterator[str]:
    """The path (str) of a FIFO made by mkfifo() in ``ipc_tmp_path``; removed at teardown."""
    path = str(ipc_tmp_path / "fifo")
    check_sun_path(path)
    with fifo(path) as made:
        yield made


# -- fixtures: the property record -----------------------------------------------------------


@pytest.fixture
def ipc_record(request: pytest.FixtureRequest) -> PropertyRecorder:
    """Record what a property test observed: ``observe(key, value)``, ``limit(name, value,
    unit)`` and ``expect(observed, portable=..., linux=..., darwin=..., freebsd=...)``.

    Requesting it in a test marked ``@pytest.mark.ipc_property(ID, ref=...)`` also puts the
    property ID in the test's node id.  What it records reaches the report, also under xdist.
    """
    marker = request.node.get_closest_marker(_PROPERTY_MARKER)
    prop_id = getattr(request, "param", None) or (_marker_id(marker) if marker else None)
    ref = str(marker.kwargs.get("ref", "")) if marker else ""
    return PropertyRecorder(request.node.user_properties, prop_id, ref)


__all__ = [
    "LeakError",
    "default_socket_root",
]
