"""The socket properties can fail: run them against deliberately broken stand-ins.

Each mutant is a conftest.py that monkeypatches the ``socket`` module of a pytest subprocess
(socketpair() handing back the wrong type, recv() returning too little, datagrams silently
dropped, EOF never reported).  The property modules from ``conformance/`` are copied in
unchanged; the properties named must fail under the mutant and pass without it.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFORMANCE = Path(__file__).resolve().parent.parent / "conformance"
MODULES = ("test_dgram.py", "test_stream.py", "test_msg.py", "test_socketpair.py")

MUTANTS = {
    # socketpair(AF_UNIX, SOCK_DGRAM/SOCK_SEQPACKET) quietly returns a SOCK_STREAM pair.
    "stream-for-dgram": """
        import socket
        _real = socket.socketpair
        def socketpair(family=socket.AF_UNIX, type=socket.SOCK_STREAM, proto=0):
            return _real(family, socket.SOCK_STREAM, proto)
        socket.socketpair = socketpair
    """,
    # recv() never returns more than 3 bytes (a message is split / truncated).
    "short-recv": """
        import _socket, socket
        def recv(self, bufsize, flags=0):
            return _socket.socket.recv(self, min(bufsize, 3), flags)
        socket.socket.recv = recv
    """,
    # every 5th datagram sent is dropped, yet send() reports success.
    "lossy-dgram": """
        import _socket, itertools, socket
        _count = itertools.count(1)
        def send(self, data, flags=0):
            if self.type == socket.SOCK_DGRAM and next(_count) % 5 == 0:
                return len(data)
            return _socket.socket.send(self, data, flags)
        socket.socket.send = send
    """,
    # a closed peer is never reported as end of file: recv() says "would block" instead.
    "no-eof": """
        import _socket, socket
        def recv(self, bufsize, flags=0):
            data = _socket.socket.recv(self, bufsize, flags)
            if not data and bufsize and self.type == socket.SOCK_STREAM:
                raise BlockingIOError(11, "Resource temporarily unavailable")
            return data
        socket.socket.recv = recv
    """,
}

PROFILE = """
    import hypothesis_profiles
    from hypothesis import settings
    settings.load_profile(hypothesis_profiles.FAST)
"""

#: (mutant, property ID selected with -k, node id fragment that must fail)
CASES = [
    ("stream-for-dgram", "dgram.boundaries", "test_boundaries[dgram.boundaries-socketpair-dgram]"),
    ("stream-for-dgram", "socketpair.types", "test_types[socketpair.types-dgram]"),
    ("short-recv", "stream.no-boundaries", "test_no_boundaries[stream.no-boundaries-path-stream]"),
    ("short-recv", "msg.any-sizes", "test_any_sizes[msg.any-sizes-socketpair-dgram]"),
    ("lossy-dgram", "dgram.reliable", "test_reliable[dgram.reliable-socketpair-dgram]"),
    ("lossy-dgram", "dgram.ordered", "test_ordered[dgram.ordered-path-dgram]"),
    ("no-eof", "stream.eof-on-close", "test_eof_on_close[stream.eof-on-close-socketpair-stream]"),
]


def _setup(pytester: pytest.Pytester, mutant: str | None) -> None:
    for name in (*MODULES, "hypothesis_profiles.py"):
        shutil.copy(CONFORMANCE / name, pytester.path / name)
    code = textwrap.dedent(PROFILE)
    if mutant is not None:
        code += textwrap.dedent(MUTANTS[mutant])
    pytester.makeconftest(code)


def _run(pytester: pytest.Pytester, selection: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "-q", "-rf", "-k", selection, timeout=120
    )


def test_properties_pass_without_mutant(pytester: pytest.Pytester) -> None:
    """Control: the selected properties pass against the real socket module."""
    _setup(pytester, None)
    selection = " or ".join(sorted({prop for _, prop, _ in CASES}))
    result = _run(pytester, selection)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes.get("passed", 0) >= len(CASES), result.stdout.str()


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_mutant_is_caught(pytester: pytest.Pytester, mutant: str) -> None:
    """Under each broken stand-in, the properties aimed at it fail (and name the node)."""
    cases = [(prop, node) for m, prop, node in CASES if m == mutant]
    _setup(pytester, mutant)
    result = _run(pytester, " or ".join(prop for prop, _ in cases))
    output = result.stdout.str()
    assert result.parseoutcomes().get("failed", 0) >= len(cases), output
    for _, node in cases:
        assert f"FAILED {_module_of(node)}::{node}" in output, f"{node} did not fail:\n{output}"


def _module_of(node: str) -> str:
    prefix = node.split("[", 1)[1].split(".", 1)[0]
    return {
        "dgram": "test_dgram.py",
        "stream": "test_stream.py",
        "msg": "test_msg.py",
        "socketpair": "test_socketpair.py",
    }[prefix]
