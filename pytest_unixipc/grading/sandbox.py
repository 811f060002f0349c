"""Run an untrusted program in a sandbox and make sure nothing it started survives.

Each program runs

- in a fresh session and process group (``setsid(2)``, through ``start_new_session``);
- with resource limits set in the child just before ``execve(2)`` (``setrlimit(2)``:
  RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_AS, RLIMIT_CORE = 0);
- with a small, explicit environment that carries a per-run marker,
  ``UNIXIPC_SANDBOX_ID=<id>`` (``environ(7)``), inherited by everything it starts;
- in a cgroup of its own when the cgroup file system is writable (``cgroups(7)``): cgroup v2
  gives ``cgroup.kill`` (kill every member at once), the v1 or v2 ``pids`` controller gives
  ``pids.max``, the fork-bomb guard that works even for root;
- optionally as another user (``setuid(2)``), for graders that run as root.

The pre-exec step is a tiny Python program run with ``-I -S`` (about 10 ms): it joins the
cgroup, sets the limits, sets ``PR_SET_PDEATHSIG`` (``prctl(2)``) so the program dies with the
grader, drops privileges and ``execvp``\\ s the program, which keeps the pid.  No
``preexec_fn``: it is unsafe in a multi-threaded process such as a pytest-xdist worker.

RLIMIT_NPROC counts every process of the *real user ID* and is not enforced at all for root
(``setrlimit(2)``: "not enforced for processes that have either the CAP_SYS_ADMIN or the
CAP_SYS_RESOURCE capability, or run with real user ID 0").  As root it therefore only helps
with ``user=`` (then it counts all of that user's processes on the machine, so parallel
sandboxes of the same user share it); the pids cgroup is the real guard when available.

At the end (:meth:`SandboxedProcess.kill_all`) the program gets SIGTERM and a short grace,
then every process of the sandbox is killed with SIGKILL and reaped, repeatedly, until none is
left.  A process belongs to the sandbox when it is in its cgroup, or in its session or process
group, or descends from it, or carries the marker in ``/proc/<pid>/environ`` (``proc(5)``):
the last one catches daemons that called ``setsid(2)`` and lost their parent.  The grader
process is made a child subreaper (``PR_SET_CHILD_SUBREAPER``, ``prctl(2)``), so orphans are
re-parented to it rather than to init, and it reaps them by pid (never ``waitpid(-1)``, which
would steal other children of the grader).

Output is read by a thread with ``poll(2)``: stdout is kept up to a cap (the rest is counted
and discarded), stderr keeps its last bytes; a flood never fills memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import pwd
import secrets
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "MARKER_ENV",
    "Limits",
    "SandboxError",
    "SandboxedProcess",
    "describe_status",
    "find_marked_processes",
    "run_program",
]

#: Environment variable carrying the sandbox id into every process of a sandbox.
MARKER_ENV = "UNIXIPC_SANDBOX_ID"

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36

_MiB = 1024 * 1024
#: Seconds after the wall-clock limit at which the watchdog kills a program still running.
WATCHDOG_SLACK = 1.0


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed run (see ``setrlimit(2)``)."""

    cpu_seconds: int = 10
    open_files: int = 64
    processes: int = 64
    file_size: int = 16 * _MiB
    address_space: int = 1024 * _MiB
    #: Wall-clock limit: :meth:`SandboxedProcess.expired` and the default for waits.
    wall_seconds: float = 10.0
    #: Bytes of stdout kept (the rest is counted and discarded) and of stderr kept (the tail).
    output_cap: int = 64 * 1024
    #: Lines of stderr shown in feedback.
    stderr_lines: int = 12
    #: Seconds between SIGTERM and SIGKILL at the end.
    term_grace: float = 0.3

    def rlimits(self) -> list[tuple[str, int]]:
        return [
            ("RLIMIT_CPU", self.cpu_seconds),
            ("RLIMIT_NOFILE", self.open_files),
            ("RLIMIT_NPROC", self.processes),
            ("RLIMIT_FSIZE", self.file_size),
            ("RLIMIT_AS", self.address_space),
            ("RLIMIT_CORE", 0),
        ]


class SandboxError(RuntimeError):
    """The sandbox could not be set up (not the program's fault)."""


# The pre-exec step, run as `python -I -S -c _PREEXEC CONFIG ARGV...`.  It must stay tiny.
_PREEXEC = r"""
import json, os, resource, signal, sys
try:
    import ctypes
    libc = ctypes.CDLL(None)
except Exception:
    libc = None
cfg = json.loads(sys.argv[1]); argv = sys.argv[2:]
try:
    for path in cfg["cgroups"]:
        try:
            with open(path, "w") as f:
                f.write("0")
        except OSError:
            pass
    if cfg["gid"] is not None:
        os.setgroups([])
        os.setgid(cfg["gid"])
    if cfg["uid"] is not None:
        os.setuid(cfg["uid"])
    for name, value in cfg["rlimits"]:
        try:
            which = getattr(resource, name)
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY and value > hard:
                value = hard
            resource.setrlimit(which, (value, value))
        except (AttributeError, ValueError, OSError):
            pass  # a limit this platform does not support
    prctl = getattr(libc, "prctl", None)
    if prctl is not None:
        prctl(1, 9, 0, 0, 0)  # Linux: PR_SET_PDEATHSIG, SIGKILL
    # Python ignores SIGPIPE and SIGXFSZ; ignored signals survive execve(2), so restore them.
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    if os.getppid() != cfg["parent"]:
        os._exit(125)
    os.execv(cfg["exe"], argv)
except OSError as e:
    sys.stderr.write("unixipc-grade: cannot run %s: %s\n" % (argv[0], e.strerror))
    sys.stderr.flush()
    os._exit(127)
"""

_ids = itertools.count(1)
_subreaper_lock = threading.Lock()
_subreaper_done = False


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _ensure_subreaper() -> None:
    """Make this process a child subreaper (Linux >= 3.4), once; silently skipped elsewhere."""
    global _subreaper_done
    with _subreaper_lock:
        if _subreaper_done or not sys.platform.startswith("linux"):
            return
        _subreaper_done = True
        with contextlib.suppress(OSError, AttributeError):
            _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def describe_status(returncode: int | None) -> str:
    """Words for a ``Popen.returncode``: "exited with status 1", "was killed by SIGPIPE"."""
    if returncode is None:
        return "was still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"


# -- /proc ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stat:
    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    starttime: int


def _read_stat(pid: int) -> _Stat | None:
    """Parse ``/proc/<pid>/stat`` (``proc(5)``); None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2 :].split()
    try:
        return _Stat(pid, rest[0].decode(), int(rest[1]), int(rest[2]), int(rest[3]), int(rest[19]))
    except (IndexError, ValueError):
        return None


def _all_pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
    except OSError:
        return False
    return marker in env.split(b"\0")


def find_marked_processes(sandbox_id_prefix: str) -> list[int]:
    """Pids of live processes whose environment has ``UNIXIPC_SANDBOX_ID`` starting with the
    given prefix (``proc(5)``: ``/proc/<pid>/environ``); zombies have no environment left."""
    needle = f"{MARKER_ENV}={sandbox_id_prefix}".encode()
    found = []
    for pid in _all_pids():
        if pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if any(entry.startswith(needle) for entry in env.split(b"\0")):
            found.append(pid)
    return found


# -- cgroups --------------------------------------------------------------------------------


def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, fs type, super options) from ``/proc/self/mountinfo``."""
    out = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                rfields = right.split()
                if len(fields) >= 5 and len(rfields) >= 3:
                    out.append((fields[4], rfields[0], rfields[2]))
    except OSError:
        pass
    return out


def _own_cgroups() -> dict[str, str]:
    """Controller list (or "" for v2) -> cgroup path of this process (``cgroups(7)``)."""
    result = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                parts = line.rstrip("\n").split(":", 2)
                if len(parts) == 3:
                    result[parts[1]] = parts[2]
    except OSError:
        pass
    return result


@dataclass
class _Cgroup:
    path: Path
    v2: bool

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    def members(self) -> list[int]:
        try:
            return [int(x) for x in self.procs.read_text().split()]
        except (OSError, ValueError):
            return []

    def kill(self) -> None:
        kill_file = self.path / "cgroup.kill"
        if self.v2 and kill_file.exists():
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
        for pid in self.members():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def remove(self) -> bool:
        try:
            self.path.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True


def _make_cgroups(name: str, limits: Limits) -> list[_Cgroup]:
    """Create this sandbox's cgroups where the hierarchy is writable; [] otherwise."""
    if not sys.platform.startswith("linux") or os.environ.get("UNIXIPC_NO_CGROUP"):
        return []
    own = _own_cgroups()
    made: list[_Cgroup] = []
    for mountpoint, fstype, opts in _mounts():
        if fstype == "cgroup2" and "" in own:
            rel = own[""]
            v2 = True
        elif fstype == "cgroup" and "pids" in opts.split(","):
            rel = next((p for c, p in own.items() if "pids" in c.split(",")), "")
            if not rel:
                continue
            v2 = False
        else:
            continue
        if any(c.v2 == v2 for c in made):
            continue
        path = Path(mountpoint + rel.rstrip("/")) / name
        try:
            path.mkdir()
        except OSError:
            continue
        group = _Cgroup(path, v2)
        made.append(group)
        pids_max = path / "pids.max"
        if pids_max.exists():
            with contextlib.suppress(OSError):
                pids_max.write_text(str(limits.processes))
    return made


# -- output capture -------------------------------------------------------------------------


class _Capture:
    """Reads stdout and stderr of the program in a thread with poll(); keeps a capped head of
    stdout and a capped tail of stderr, and counts what it discarded."""

    def __init__(self, stdout_fd: int, stderr_fd: int, cap: int) -> None:
        self.cap = cap
        self.stdout = bytearray()
        self.stdout_total = 0
        self.stderr = bytearray()
        self.stderr_total = 0
        self.cond = threading.Condition()
        self.eof = False
        self._fds = {stdout_fd: "out", stderr_fd: "err"}
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="unixipc-capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = select.poll()
        for fd in self._fds:
            poller.register(fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        open_fds = set(self._fds)
        stopping = False
        while open_fds:
            events = poller.poll(None if not stopping else 0)
            if not events:
                break
            for fd, _ev in events:
                if fd == self._wake_r:
                    stopping = True
                    poller.unregister(fd)
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    continue
                self._store(self._fds[fd], chunk)
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _store(self, which: str, chunk: bytes) -> None:
        with self.cond:
            if which == "out":
                self.stdout_total += len(chunk)
                room = self.cap - len(self.stdout)
                if room > 0:
                    self.stdout += chunk[:room]
            else:
                self.stderr_total += len(chunk)
                self.stderr += chunk
                if len(self.stderr) > self.cap:
                    del self.stderr[: len(self.stderr) - self.cap]
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[bytes], bool], timeout: float) -> bool:
        """Wait until ``predicate(stdout so far)`` holds or end of output or the timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if predicate(bytes(self.stdout)):
                    return True
                remaining = deadline - time.monotonic()
                if self.eof or remaining <= 0:
                    return False
                self.cond.wait(remaining)

    def wait_eof(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.eof:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
        return True

    def stop(self, timeout: float = 2.0) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        self._thread.join(timeout)
        if self._thread.is_alive():
            return  # still polling the wake pipe: leave it open rather than reuse its number
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


# -- the handle -----------------------------------------------------------------------------


@dataclass
class SandboxedProcess:
    """A running sandboxed program (see :func:`run_program`)."""

    argv: list[str]
    cwd: Path
    limits: Limits
    sandbox_id: str
    popen: subprocess.Popen[bytes]
    cgroups: list[_Cgroup] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    #: Processes that were still alive after kill_all (should stay empty).
    survivors: list[int] = field(default_factory=list)
    _capture: _Capture | None = None
    _pidfd: int | None = None
    _seen: dict[int, int] = field(default_factory=dict)
    _killed: bool = False
    _watchdog: threading.Timer | None = None
    #: True when the watchdog killed the program at its wall-clock limit.
    wall_killed: bool = False

    def _arm_watchdog(self) -> None:
        """Kill everything shortly after the wall-clock limit, even if nobody is waiting:
        the caller's own waits end at the limit, so this is only a backstop."""
        timer = threading.Timer(self.limits.wall_seconds + WATCHDOG_SLACK, self._on_wall_limit)
        timer.daemon = True
        self._watchdog = timer
        timer.start()

    def _on_wall_limit(self) -> None:
        if self._killed or self.popen.poll() is not None:
            return
        self.wall_killed = True
        for group in self.cgroups:
            group.kill()
        with contextlib.suppress(OSError):
            os.killpg(self.pid, signal.SIGKILL)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def pidfd(self) -> int | None:
        """A pidfd for the program (``pidfd_open(2)``; readable once it ends), or None."""
        return self._pidfd

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    @property
    def signal(self) -> str | None:
        """Name of the signal that ended the program ("SIGPIPE"), or None."""
        code = self.popen.poll()
        if code is None or code >= 0:
            return None
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"

    def status(self) -> str:
        """Words for the program's state: "was still running", "was killed by SIGPIPE"."""
        words = describe_status(self.popen.poll())
        if self.wall_killed:
            words += f" at the wall-clock limit ({self.limits.wall_seconds:g} s)"
        return words

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return max(0.0, self.limits.wall_seconds - self.elapsed())

    def expired(self) -> bool:
        return self.remaining() <= 0

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait (bounded) for the program itself to end; its return code or None."""
        if timeout is None:
            timeout = self.remaining()
        code = self.popen.poll()
        if code is None and self._pidfd is not None:
            poller = select.poll()
            poller.register(self._pidfd, select.POLLIN)
            poller.poll(max(0, int(timeout * 1000)))
            code = self.popen.poll()
        elif code is None:
            try:
                code = self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                code = None
        if code is not None and self._capture is not None:
            # Let the reader catch up with what the program wrote before it ended (bounded:
            # a child of the program may still hold the pipes open).
            self._capture.wait_eof(0.5)
        return code

    # output ---------------------------------------------------------------------------

    @property
    def stdout(self) -> bytes:
        """Standard output so far (its first ``limits.output_cap`` bytes)."""
        assert self._capture is not None
        with self._capture.cond:
            return bytes(self._capture.stdout)

    @property
    def stdout_truncated(self) -> bool:
        assert self._capture is not None
        return self._capture.stdout_total > len(self._capture.stdout)

    @property
    def stdout_total(self) -> int:
        assert self._capture is not None
        return self._capture.stdout_total

    @property
    def stderr(self) -> bytes:
        """The last ``limits.output_cap`` bytes of standard error."""
        assert self._capture is not None
        with self._capture.cond:
            return bytes(self._capture.stderr)

    @property
    def stderr_tail(self) -> list[str]:
        """The last ``limits.stderr_lines`` lines of standard error, decoded leniently."""
        text = self.stderr.decode("utf-8", "replace")
        lines = [line[:300] for line in text.splitlines() if line.strip()]
        return lines[-self.limits.stderr_lines :]

    @property
    def stdout_tail(self) -> list[str]:
        text = self.stdout.decode("utf-8", "replace")
        lines = [line[:300] for line in text.splitlines()]
        return lines[-self.limits.stderr_lines :]

    def stdout_lines(self) -> list[str]:
        """Complete lines of stdout so far (without line ends; a last partial line is left)."""
        text = self.stdout.decode("utf-8", "replace")
        if not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        return [line.rstrip("\r") for line in text.splitlines()]

    def wait_for_output(self, predicate: Callable[[bytes], bool], timeout: float) -> bool:
        """Wait (bounded) until ``predicate(stdout)`` is true; False at the timeout or EOF."""
        assert self._capture is not None
        return self._capture.wait_for(predicate, timeout)

    def wait_for_lines(self, count: int, timeout: float) -> bool:
        """Wait (bounded) until stdout has at least ``count`` complete lines."""
        return self.wait_for_output(lambda out: out.count(b"\n") >= count, timeout)

    # stdin ----------------------------------------------------------------------------

    def write_stdin(self, data: bytes) -> bool:
        """Write to the program's stdin (a pipe); False if it is closed or gone."""
        stream = self.popen.stdin
        if stream is None:
            return False
        try:
            stream.write(data)
            stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            return False
        return True

    def close_stdin(self) -> None:
        stream = self.popen.stdin
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.close()

    # processes ------------------------------------------------------------------------

    def processes(self) -> list[int]:
        """Pids of every live process of this sandbox (see the module docstring)."""
        return sorted(self._scan(include_zombies=False))

    def children_of(self, pid: int) -> list[int]:
        """Live (non-zombie) processes whose parent is ``pid``."""
        out = []
        for other in _all_pids():
            st = _read_stat(other)
            if st is not None and st.ppid == pid and st.state not in ("Z", "X"):
                out.append(other)
        return sorted(out)

    def _scan(self, include_zombies: bool) -> set[int]:
        me = os.getpid()
        marker = f"{MARKER_ENV}={self.sandbox_id}".encode()
        stats: dict[int, _Stat] = {}
        for pid in _all_pids():
            st = _read_stat(pid)
            if st is not None:
                stats[pid] = st
        members: set[int] = set()
        for group in self.cgroups:
            members.update(p for p in group.members() if p in stats)
        root = self.pid
        for pid, st in stats.items():
            if pid == me:
                continue
            known = self._seen.get(pid) == st.starttime
            if (
                st.session == root
                or st.pgrp == root
                or pid == root
                or known
                or _has_marker(pid, marker)
            ):
                members.add(pid)
        # descendants of members
        changed = True
        while changed:
            changed = False
            for pid, st in stats.items():
                if pid not in members and st.ppid in members and pid != me:
                    members.add(pid)
                    changed = True
        for pid in members:
            self._seen[pid] = stats[pid].starttime
        if not include_zombies:
            members = {p for p in members if stats[p].state not in ("Z", "X")}
        return members

    def _reap_ours(self) -> None:
        """Reap sandbox processes that are our children (re-parented to us, the subreaper)."""
        me = os.getpid()
        for pid in list(self._seen):
            if pid == self.pid:
                continue
            st = _read_stat(pid)
            if st is None or st.starttime != self._seen[pid]:
                continue
            if st.ppid == me:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)
        self.popen.poll()

    def kill_all(self, timeout: float = 5.0) -> list[int]:
        """SIGTERM the program, wait ``limits.term_grace``, then SIGKILL and reap every
        process of the sandbox until none is left (bounded by ``timeout``).  Returns the pids
        that could not be killed (normally none).  Safe to call twice."""
        if self._killed:
            return self.survivors
        self._killed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        # Register every member before anything dies: a killed process loses its environment
        # (and its marker), and a zombie must still be recognised to be reaped.
        self._scan(include_zombies=True)
        if self.popen.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGTERM)
            self.wait(self.limits.term_grace)
        deadline = time.monotonic() + timeout
        left: set[int] = set()
        while True:
            for group in self.cgroups:
                group.kill()
            for pgid in {self.pid}:
                with contextlib.suppress(OSError):
                    os.killpg(pgid, signal.SIGKILL)
            left = self._scan(include_zombies=False)
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            self._reap_ours()
            zombies = {
                p
                for p in self._scan(include_zombies=True)
                if (st := _read_stat(p)) is not None and st.ppid == os.getpid() and p != self.pid
            }
            if not left and not zombies and self.popen.poll() is not None:
                break
            if time.monotonic() > deadline:
                break
            self._pause_for(left | zombies)
        self.survivors = sorted(left)
        if self._capture is not None:
            self._capture.stop()
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
        if self._pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self._pidfd)
            self._pidfd = None
        for group in self.cgroups:
            group.remove()
        return self.survivors

    def _pause_for(self, pids: set[int]) -> None:
        """Wait (at most 20 ms) for one of ``pids`` to exit, with pidfds and poll()."""
        fds = []
        try:
            for pid in sorted(pids)[:64]:
                with contextlib.suppress(OSError, AttributeError):
                    fds.append(os.pidfd_open(pid))
            if self._pidfd is not None and self.popen.returncode is None:
                fds.append(os.dup(self._pidfd))
            poller = select.poll()
            for fd in fds:
                poller.register(fd, select.POLLIN)
            if fds:
                poller.poll(20)
            else:
                select.select([], [], [], 0.005)
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)


def _processes_of(uid: int) -> int:
    """How many processes have real user ID ``uid`` (``/proc/<pid>/status``, "Uid:")."""
    count = 0
    for pid in _all_pids():
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    count += int(line.split()[1]) == uid
                    break
    return count


def _rlimits(limits: Limits, uid: int | None) -> list[tuple[str, int]]:
    """The limits for the pre-exec step.  RLIMIT_NPROC counts every process of the real user
    ID, so it is set to that user's current count plus ``limits.processes``: the program may
    start that many more.  (For root it is not enforced at all; see the module docstring.)"""
    real = os.getuid() if uid is None else uid
    out = []
    for name, value in limits.rlimits():
        if name == "RLIMIT_NPROC" and real != 0 and sys.platform.startswith("linux"):
            value += _processes_of(real)
        out.append((name, value))
    return out


def _resolve_user(user: str | int | None) -> tuple[int | None, int | None]:
    if user is None:
        return None, None
    try:
        entry = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(user)
    except KeyError:
        if isinstance(user, int) or str(user).isdigit():
            return int(user), int(user)
        raise SandboxError(f"no such user: {user!r}") from None
    return entry.pw_uid, entry.pw_gid


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            with contextlib.suppress(OSError):
                os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


@contextlib.contextmanager
def run_program(
    argv: Sequence[str],
    cwd: str | os.PathLike[str],
    limits: Limits | None = None,
    *,
    env: Mapping[str, str] | None = None,
    user: str | int | None = None,
    stdin_pipe: bool = False,
    sandbox_tag: str | None = None,
    pass_fds: Sequence[int] = (),
) -> Iterator[SandboxedProcess]:
    """Start ``argv`` sandboxed in ``cwd`` and kill and reap everything it started on exit.

    ``env`` adds to a minimal environment (PATH, HOME=cwd, TMPDIR=cwd, LANG=C).  ``user`` (a
    name or uid; needs root) runs the program as that user; ``cwd`` and its contents are then
    chowned to it.  ``stdin_pipe`` gives the program a pipe as stdin (else /dev/null).
    ``sandbox_tag`` prefixes the sandbox id, so a caller can find leftovers with
    :func:`find_marked_processes`.  Raises :class:`SandboxError` if the program cannot be
    started at all.
    """
    limits = limits or Limits()
    workdir = Path(cwd)
    _ensure_subreaper()
    tag = sandbox_tag or f"uxg{os.getpid()}"
    sandbox_id = f"{tag}.{next(_ids)}.{secrets.token_hex(3)}"
    uid, gid = _resolve_user(user)
    if uid is not None and os.geteuid() != 0 and uid != os.geteuid():
        raise SandboxError(f"running as user {user!r} needs root")
    if uid is not None and gid is not None:
        _chown_tree(workdir, uid, gid)
    child_env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C",
        MARKER_ENV: sandbox_id,
    }
    if env:
        child_env.update(env)
    exe = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=child_env["PATH"])
    if exe is None:
        raise SandboxError(f"command not found: {argv[0]!r}")
    cgroups = _make_cgroups(f"unixipc-{sandbox_id}", limits)
    config = {
        "exe": os.path.join(str(workdir), exe) if "/" in argv[0] else exe,
        "cgroups": [str(g.procs) for g in cgroups],
        "uid": uid,
        "gid": gid,
        "rlimits": _rlimits(limits, uid),
        "parent": os.getpid(),
    }
    try:
        popen = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _PREEXEC, json.dumps(config), *argv],
            cwd=workdir,
            env=child_env,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
            pass_fds=tuple(pass_fds),
        )
    except OSError as exc:
        for group in cgroups:
            group.remove()
        raise SandboxError(f"cannot start the sandbox: {exc}") from exc
    assert popen.stdout is not None
    assert popen.stderr is not None
    proc = SandboxedProcess(
        argv=list(argv),
        cwd=workdir,
        limits=limits,
        sandbox_id=sandbox_id,
        popen=popen,
        cgroups=cgroups,
    )
    with contextlib.suppress(OSError, AttributeError):
        proc._pidfd = os.pidfd_open(popen.pid)
    proc._capture = _Capture(popen.stdout.fileno(), popen.stderr.fileno(), limits.output_cap)
    proc._arm_watchdog()
    try:
        yield proc
    finally:
        proc.kill_all()
