"""Every fixture's resource is also a context manager importable from pytest_unixipc."""

from __future__ import annotations

import contextlib
import inspect

import pytest

import pytest_unixipc

#: fixture -> the context manager behind it
CONTEXT_MANAGERS = {
    "ipc_tmp_path": "ipc_tmp_dir",
    "socketpair_factory": "socketpair",
    "unix_socketpair": "socketpair",
    "unix_dgram_socket": "bound_dgram_socket",
    "stream_server_factory": "stream_server",
    "unix_stream_server": "stream_server",
    "forked_peer": "forked_peer",
    "fd_channel": "fd_channel",
    "pipe_pair": "pipe_pair",
    "fifo_path": "fifo",
}


def test_all_names_exist() -> None:
    missing = [name for name in pytest_unixipc.__all__ if not hasattr(pytest_unixipc, name)]
    assert missing == []


@pytest.mark.parametrize(("fixture", "name"), sorted(CONTEXT_MANAGERS.items()))
def test_each_fixture_has_a_context_manager(
    fixture: str, name: str, pytestconfig: pytest.Config
) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("unixipc")
    assert plugin is not None
    assert callable(getattr(plugin, fixture))  # the fixture is the plugin's
    assert name in pytest_unixipc.__all__
    function = getattr(pytest_unixipc, name)
    assert function.__module__.startswith("pytest_unixipc.")
    if hasattr(function, "__wrapped__"):  # made by contextlib.contextmanager
        assert inspect.isgeneratorfunction(function.__wrapped__)
        assert function.__code__ is not function.__wrapped__.__code__
    else:  # returns an object that is its own context manager (forked_peer: a ForkedPeer)
        returned = inspect.signature(function, eval_str=True).return_annotation
        assert inspect.isclass(returned)
        assert issubclass(returned, contextlib.AbstractContextManager)
    with contextlib.suppress(TypeError):  # the ones that need arguments
        assert isinstance(function(), contextlib.AbstractContextManager)
