"""Our own sample student programs (tests/students/*.c): role, command and the exact set of
properties each one fails.  Shared by the grading tests and bench/grade_bench.py."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

STUDENTS = Path(__file__).resolve().parent.parent / "students"

ROLE_ARGS = {
    "echo-server": ["{socket}"],
    "echo-client": ["{socket}"],
    "dgram-receiver": ["{socket}", "{size}"],
    "dgram-sender": ["{socket}", "{message}", "{count}"],
    "seqpacket-echo": ["{socket}"],
    "fd-sender": ["{socket}", "{file}"],
    "fd-receiver": ["{socket}"],
    "prefork-echo": ["{socket}", "{workers}"],
}

ECHO_SERVER_ALL = {
    "echo-server.creates-socket",
    "echo-server.echo-short",
    "echo-server.echo-binary",
    "echo-server.echo-large",
    "echo-server.sequential-clients",
    "echo-server.client-abort",
    "echo-server.stale-socket",
    "echo-server.no-fd-leak",
    "echo-server.concurrent-clients",
}
BONUS = "echo-server.concurrent-clients"


@dataclass(frozen=True)
class Sample:
    name: str  # file name without .c
    role: str
    fails: frozenset[str]
    hostile: bool = False

    @property
    def correct(self) -> bool:
        return not self.fails

    @property
    def exit_status(self) -> int:
        """0 when every required (non-bonus) property passes."""
        return 1 if self.fails - {BONUS} else 0


def _s(name: str, role: str, *fails: str, hostile: bool = False) -> Sample:
    return Sample(name, role, frozenset(fails), hostile)


SAMPLES = [
    _s("echo_server_ok", "echo-server"),
    _s("echo_server_iterative", "echo-server", BONUS),
    _s("echo_server_stale", "echo-server", "echo-server.stale-socket", BONUS),
    _s("echo_server_sigpipe", "echo-server", "echo-server.client-abort", BONUS),
    _s("echo_server_truncate", "echo-server", "echo-server.echo-large", BONUS),
    _s("echo_server_leak", "echo-server", "echo-server.no-fd-leak", BONUS),
    _s(
        "echo_server_hang",
        "echo-server",
        *(ECHO_SERVER_ALL - {"echo-server.creates-socket", "echo-server.stale-socket"}),
        hostile=True,
    ),
    _s("echo_server_nosocket", "echo-server", *ECHO_SERVER_ALL, hostile=True),
    _s("echo_server_flood", "echo-server", BONUS, hostile=True),
    _s("echo_server_noterm", "echo-server", BONUS, hostile=True),
    _s("echo_server_forkmany", "echo-server", BONUS, hostile=True),
    _s("echo_server_daemon", "echo-server", BONUS, hostile=True),
    _s("echo_client_ok", "echo-client"),
    _s("echo_client_noclose", "echo-client", "echo-client.server-closed"),
    _s("echo_client_nul", "echo-client", "echo-client.echo-lines"),
    _s("dgram_receiver_ok", "dgram-receiver"),
    _s("dgram_receiver_stale", "dgram-receiver", "dgram-receiver.stale-socket"),
    _s("dgram_receiver_merge", "dgram-receiver", "dgram-receiver.boundaries"),
    _s("dgram_receiver_leftover", "dgram-receiver", "dgram-receiver.no-stale-bytes"),
    _s("dgram_sender_ok", "dgram-sender"),
    _s("dgram_sender_nul", "dgram-sender", "dgram-sender.exact-payload"),
    _s(
        "dgram_sender_noerr",
        "dgram-sender",
        "dgram-sender.no-receiver",
        "dgram-sender.path-too-long",
    ),
    _s("seqpacket_echo_ok", "seqpacket-echo"),
    _s("seqpacket_echo_smallbuf", "seqpacket-echo", "seqpacket-echo.boundaries"),
    _s("seqpacket_echo_emptyeof", "seqpacket-echo", "seqpacket-echo.empty-message"),
    _s("fd_sender_ok", "fd-sender"),
    _s("fd_sender_rdwr", "fd-sender", "fd-sender.read-only"),
    _s(
        "fd_sender_nofd",
        "fd-sender",
        "fd-sender.sends-descriptor",
        "fd-sender.right-file",
        "fd-sender.read-only",
    ),
    _s("fd_receiver_ok", "fd-receiver"),
    _s("fd_receiver_ignore", "fd-receiver", "fd-receiver.uses-descriptor", "fd-receiver.large"),
    _s("fd_receiver_short", "fd-receiver", "fd-receiver.large"),
    _s("prefork_echo_ok", "prefork-echo"),
    _s(
        "prefork_echo_master",
        "prefork-echo",
        "prefork-echo.served-by-worker",
        "prefork-echo.concurrent",
    ),
    _s("prefork_echo_norespawn", "prefork-echo", "prefork-echo.worker-crash"),
]


def compile_all(out_dir: Path, cc: str = "cc") -> dict[str, Path]:
    """Compile every sample (in parallel) into ``out_dir``; name -> executable."""
    procs = []
    for source in sorted(STUDENTS.glob("*.c")):
        exe = out_dir / source.stem
        cmd = [cc, "-O1", "-Wall", "-o", str(exe), str(source)]
        procs.append((source, exe, subprocess.Popen(cmd, stderr=subprocess.PIPE)))
    built = {}
    errors = []
    for source, exe, proc in procs:
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            errors.append(f"{source.name}: {err.decode(errors='replace')}")
        else:
            built[source.stem] = exe
    if errors:
        raise RuntimeError("compiling the samples failed:\n" + "\n".join(errors))
    return built


def command(sample: Sample, exe: Path) -> list[str]:
    return [os.fspath(exe), *ROLE_ARGS[sample.role]]
