"""The leak ledger: what a test left behind (open descriptors, unreaped children, files).

A :class:`Snapshot` is taken before a test and compared after it.  Descriptors are read from
/proc/self/fd (Linux) or /dev/fd; children from /proc/<pid>/task/*/children (Linux) or ``ps``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Leaks", "Snapshot", "describe_fd", "list_children", "list_fds"]

_FD_DIR = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"


def list_fds() -> dict[int, str]:
    """Open descriptors of this process, each with what it refers to."""
    fds: dict[int, str] = {}
    try:
        names = os.listdir(_FD_DIR)
    except OSError:
        return fds
    for name in names:
        fd = int(name)
        desc = describe_fd(fd)
        if desc is not None:
            fds[fd] = desc
    return fds


def describe_fd(fd: int) -> str | None:
    """'socket:[123]', 'pipe:[9]', '/dev/shm/x', ... or None if ``fd`` is not open."""
    if _FD_DIR.startswith("/proc"):
        try:
            return os.readlink(f"{_FD_DIR}/{fd}")
        except OSError:
            return None
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return f"mode {st.st_mode:o} inode {st.st_ino}"


def list_children(pid: int | None = None) -> set[int]:
    """Child processes of ``pid`` (default: this process), zombies included."""
    pid = os.getpid() if pid is None else pid
    task_dir = Path(f"/proc/{pid}/task")
    if task_dir.is_dir():
        children: set[int] = set()
        for task in task_dir.iterdir():
            with contextlib.suppress(OSError):
                children.update(int(c) for c in (task / "children").read_text().split())
        return children
    try:
        out = subprocess.run(
            ["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    children = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and int(parts[1]) == pid:
            children.add(int(parts[0]))
    children.discard(os.getpid() if sys.platform != "linux" else -1)
    return children


def _process_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return f"pid {pid}"
    cmd = raw.replace(b"\0", b" ").decode(errors="replace").strip() or "?"
    what = "zombie (not reaped)" if state == "Z" else "running"
    return f"pid {pid} {what}: {cmd[:120]}"


@dataclass
class Leaks:
    fds: dict[int, str] = field(default_factory=dict)
    children: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fds or self.children or self.files)

    def describe(self) -> str:
        lines = []
        if self.fds:
            lines.append(f"{len(self.fds)} descriptor(s) left open:")
            lines += [f"  fd {fd} -> {what}" for fd, what in sorted(self.fds.items())]
        if self.children:
            lines.append(f"{len(self.children)} child process(es) left behind:")
            lines += [f"  {_process_line(pid)}" for pid in self.children]
        if self.files:
            lines.append(f"{len(self.files)} file(s) left in the IPC directory:")
            lines += [f"  {name}" for name in self.files]
        return "\n".join(lines)


@dataclass
class Snapshot:
    fds: dict[int, str]
    children: set[int]

    @classmethod
    def take(cls) -> Snapshot:
        return cls(list_fds(), list_children())

    def leaks_since(self) -> Leaks:
        """What is open or alive now that was not when the snapshot was taken."""
        now = list_fds()
        fds = {fd: what for fd, what in now.items() if self.fds.get(fd) != what}
        children = sorted(list_children() - self.children)
        return Leaks(fds=fds, children=children)
