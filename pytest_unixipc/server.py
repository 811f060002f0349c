"""A listening AF_UNIX server on a fresh path, served by threads (listen(2), accept(2)).

The server is ready when :func:`stream_server` yields: listen() has returned, so connect()
succeeds (servers in other processes are awaited with
:func:`~pytest_unixipc.readiness.wait_listening` instead).  Each connection is served by
``handler(conn)`` in its own thread (an echo by default).  An exception in a handler is kept and
re-raised, with its traceback, when the server is stopped; the plugin's fixture reports the
ones raised while the test body ran with that test (see ``pytest_runtest_makereport``).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading
import traceback
from collections.abc import Callable, Iterator

from pytest_unixipc.kinds import socket_type
from pytest_unixipc.paths import PathAllocator, check_sun_path
from pytest_unixipc.sockets import unlink_quietly

__all__ = ["Handler", "HandlerError", "StreamServer", "echo_handler", "stream_server"]

Handler = Callable[[socket.socket], object]

_JOIN_SECONDS = 5.0


def echo_handler(conn: socket.socket) -> None:
    """Send back everything received until the peer closes (messages stay whole on seqpacket).

    A client that closes before reading its echo is a normal end of the session, not a handler
    failure: the echo's send then fails with EPIPE, or, if the client closed with data still
    unread, the next recv fails with ECONNRESET (unix(7); Linux unix_release_sock).
    """
    while True:
        try:
            data = conn.recv(1 << 16)
            if not data:
                return
            conn.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return


def _connect_waiting(sock: socket.socket, path: str, timeout: float | None) -> None:
    """A blocking connect() bounded by SO_SNDTIMEO (socket(7)).

    Python's timeout mode makes the socket non-blocking, and a non-blocking AF_UNIX connect()
    to a listener whose queue is full fails at once with EAGAIN (unix(7)) instead of waiting.
    A blocking connect() waits for room, for at most SO_SNDTIMEO on Linux.
    """
    if timeout is not None:
        seconds = max(timeout, 1e-6)  # SO_SNDTIMEO of zero means "wait forever"
        whole = int(seconds)
        timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
    try:
        sock.connect(path)
    except BlockingIOError:
        raise TimeoutError(
            f"connect to {path!r} did not complete within {timeout} s: its listen queue stayed full"
        ) from None
    finally:
        if timeout is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 0))


class HandlerError(AssertionError):
    """A connection handler raised; the message carries the handler's traceback."""


class StreamServer:
    """A listening server; use :func:`stream_server` to make one."""

    def __init__(
        self,
        path: str,
        handler: Handler | None = None,
        *,
        kind: str = "stream",
        backlog: int = 16,
        accept: bool = True,
    ) -> None:
        if kind not in ("stream", "seqpacket"):
            socket_type(kind)  # unknown kinds get the list of valid ones
            raise ValueError(
                f"a server needs a connection-oriented kind (stream, seqpacket), not {kind!r}"
            )
        check_sun_path(path)
        self.path = path
        self.kind = kind
        self.backlog = backlog
        self.handler: Handler = handler if handler is not None else echo_handler
        self.accepting = accept
        self._type = socket_type(kind)
        self._lock = threading.Lock()
        self._served = 0
        self._errors: list[str] = []
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._clients: list[socket.socket] = []
        self._wake_r, self._wake_w = os.pipe()
        self._listener = socket.socket(socket.AF_UNIX, self._type)
        self._acceptor: threading.Thread | None = None
        try:
            self._listener.bind(path)
            self._listener.listen(backlog)
        except BaseException:
            self._close_fds()
            raise

    @property
    def served(self) -> int:
        """How many connections have been accepted and handed to the handler."""
        with self._lock:
            return self._served

    @property
    def listener(self) -> socket.socket:
        return self._listener

    def start(self) -> None:
        """Start accepting (unless ``accept=False``).

        No readiness probe is needed: listen(2) has returned, so the kernel already queues
        connections; a probe would count as a served client and see the handler's writes fail.
        """
        if not self.accepting:
            return
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"unixipc-server:{self.path}", daemon=True
        )
        self._acceptor.start()

    def connect(self, nonblocking: bool = False, timeout: float | None = 5.0) -> socket.socket:
        """A client socket connected to the server; closed when the server stops.

        Unless ``nonblocking``, connect() waits up to ``timeout`` s for room in a full listen
        queue, then raises TimeoutError; later operations use ``timeout`` (settimeout()).
        """
        sock = socket.socket(socket.AF_UNIX, self._type)
        try:
            if nonblocking:
                sock.setblocking(False)
                sock.connect(self.path)
            else:
                _connect_waiting(sock, self.path, timeout)
                sock.settimeout(timeout)
        except BaseException:
            sock.close()
            raise
        with self._lock:
            self._clients.append(sock)
        return sock

    def _accept_loop(self) -> None:
        poller = select.poll()
        poller.register(self._listener.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if self._wake_r in ready:
                return
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            with self._lock:
                self._served += 1
                self._conns.add(conn)
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            # The peer went away (EPIPE, ECONNRESET) or the server is stopping: not a bug
            # in the handler unless someone asked; keep the traceback all the same.
            if not self._stopping():
                self._record_error()
        except BaseException:
            self._record_error()
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def _stopping(self) -> bool:
        return select.select([self._wake_r], [], [], 0)[0] != []

    def _record_error(self) -> None:
        with self._lock:
            self._errors.append(traceback.format_exc())

    def stop(self) -> None:
        """Stop accepting, wake and join every handler, close everything, unlink the path."""
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._acceptor is not None:
            self._acceptor.join(_JOIN_SECONDS)
        with self._lock:
            conns = list(self._conns)
            threads = list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        stuck = []
        for thread in threads:
            thread.join(_JOIN_SECONDS)
            if thread.is_alive():
                stuck.append(thread.name)
        self._close_fds()
        unlink_quietly(self.path)
        if stuck:
            self._errors.append(
                f"{len(stuck)} handler thread(s) still running {_JOIN_SECONDS:g} s after the "
                "server shut their connections down"
            )

    def _close_fds(self) -> None:
        for client in self._clients:
            client.close()
        self._listener.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def take_errors(self) -> list[str]:
        """The tracebacks of handler failures recorded so far, which :meth:`check` will then no
        longer raise (the plugin reports them with the test that was running)."""
        with self._lock:
            errors, self._errors = self._errors, []
        return errors

    def check(self) -> None:
        """Raise :class:`HandlerError` with the handler's traceback if any handler raised."""
        with self._lock:
            errors = list(self._errors)
        if errors:
            raise handler_error(errors)


def handler_error(errors: list[str]) -> HandlerError:
    """The :class:`HandlerError` for these handler tracebacks (at least one)."""
    return HandlerError(
        f"the server's connection handler failed ({len(errors)} time(s)); first:\n" + errors[0]
    )


@contextlib.contextmanager
def stream_server(
    directory: str | os.PathLike[str],
    handler: Handler | None = None,
    *,
    kind: str = "stream",
    backlog: int = 16,
    accept: bool = True,
    check: bool = True,
) -> Iterator[StreamServer]:
    """A listening server at a fresh path in ``directory``, stopped (and checked) on exit."""
    path = PathAllocator(directory, prefix="srv")()
    server = StreamServer(path, handler, kind=kind, backlog=backlog, accept=accept)
    try:
        server.start()
        yield server
    finally:
        server.stop()
    if check:
        server.check()
