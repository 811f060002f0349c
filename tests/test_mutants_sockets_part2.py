"""The naming/backlog/fdpass/creds properties can fail: run them against broken stand-ins.

An inner pytest session (a subprocess, through pytester) runs selected properties of the real
conformance modules with a plugin that breaks exactly one thing per property, the way a buggy
platform layer or a careless wrapper would:

* ``naming.eaddrinuse``: ``bind()`` that unlinks whatever is at the path first;
* ``fdpass.scm-rights``: ``recvmsg()`` that drops (and closes) received descriptors;
* ``fdpass.ctrunc``: ``recvmsg()`` that hides MSG_CTRUNC;
* ``backlog.overflow``: ``listen()`` that ignores the backlog it is given;
* ``creds.peercred-socketpair``: SO_PEERCRED that reports nobody.

The same selection passes without the plugin, so the failures come from the mutants.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

CONFORMANCE = Path(__file__).resolve().parent.parent / "conformance"
MODULES = [CONFORMANCE / f"test_{area}.py" for area in ("naming", "backlog", "fdpass", "creds")]

#: Property -> (number of parametrized tests, text the failure must show).
MUTANTS: dict[str, tuple[int, str]] = {
    "naming.eaddrinuse": (3, "'ok'"),
    "fdpass.scm-rights": (1, "no descriptor arrived"),
    "fdpass.ctrunc": (3, "MSG_CTRUNC not set"),
    "backlog.overflow": (2, "the listen queue never filled"),
    "creds.peercred-socketpair": (3, "Ucred(pid=0, uid=-1, gid=-1)"),
}

BROKEN_PLUGIN = '''
"""Per-property breakage of the socket layer (see test_mutants_sockets_part2.py)."""
import array
import contextlib
import os
import socket
import struct

import pytest

_bind = socket.socket.bind
_recvmsg = socket.socket.recvmsg
_listen = socket.socket.listen
_getsockopt = socket.socket.getsockopt


def bind_unlinking_first(self, address):
    if isinstance(address, (str, bytes)) and address and address[:1] not in ("\\0", b"\\0"):
        with contextlib.suppress(OSError):
            os.unlink(address)
    return _bind(self, address)


def recvmsg_dropping_fds(self, *args):
    data, ancdata, flags, address = _recvmsg(self, *args)
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            whole = len(payload) - len(payload) % 4
            for fd in array.array("i", payload[:whole]):
                os.close(fd)
    return data, [], flags, address


def recvmsg_hiding_ctrunc(self, *args):
    data, ancdata, flags, address = _recvmsg(self, *args)
    return data, ancdata, flags & ~socket.MSG_CTRUNC, address


def listen_ignoring_backlog(self, backlog=None):
    return _listen(self, 4096)


def getsockopt_without_peercred(self, level, option, *args):
    if level == socket.SOL_SOCKET and option == getattr(socket, "SO_PEERCRED", -1):
        return struct.pack("iii", 0, -1, -1)
    return _getsockopt(self, level, option, *args)


BREAKAGE = {
    "naming.eaddrinuse": ("bind", bind_unlinking_first),
    "fdpass.scm-rights": ("recvmsg", recvmsg_dropping_fds),
    "fdpass.ctrunc": ("recvmsg", recvmsg_hiding_ctrunc),
    "backlog.overflow": ("listen", listen_ignoring_backlog),
    "creds.peercred-socketpair": ("getsockopt", getsockopt_without_peercred),
}


@pytest.fixture(autouse=True)
def _break_one_thing(request, monkeypatch):
    marker = request.node.get_closest_marker("ipc_property")
    if marker is not None and marker.args and marker.args[0] in BREAKAGE:
        name, replacement = BREAKAGE[marker.args[0]]
        monkeypatch.setattr(socket.socket, name, replacement)
'''


def _run(pytester: pytest.Pytester, sock_root: Path, *extra: str) -> pytest.RunResult:
    selection = " or ".join(MUTANTS)
    return pytester.runpytest_subprocess(
        *extra,
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        f"--unixipc-sock-root={sock_root}",
        "-k",
        selection,
        "-o",
        "addopts=",
        *map(str, MODULES),
        timeout=120,
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the mutants target Linux")
def test_properties_fail_against_broken_stand_ins(
    pytester: pytest.Pytester, ipc_tmp_path: Path
) -> None:
    """Each selected property passes on the real socket layer and fails on its mutant."""
    expected_tests = sum(count for count, _ in MUTANTS.values())

    control = _run(pytester, ipc_tmp_path)
    control.assert_outcomes(passed=expected_tests)

    pytester.makepyfile(unixipc_broken_sockets=BROKEN_PLUGIN)
    broken = _run(pytester, ipc_tmp_path, "-p", "unixipc_broken_sockets")
    output = "\n".join(broken.outlines)
    broken.assert_outcomes(failed=expected_tests)
    for prop, (count, reason) in MUTANTS.items():
        failed = [
            line
            for line in broken.outlines
            if line.startswith("FAILED") and re.search(rf"\[{re.escape(prop)}[-\]]", line)
        ]
        assert len(failed) == count, f"{prop}: {len(failed)} of {count} failed:\n{output}"
        assert reason in output, f"{prop}: the failure does not show {reason!r}:\n{output}"
    assert list(ipc_tmp_path.iterdir()) == [], "the inner sessions left IPC directories behind"
