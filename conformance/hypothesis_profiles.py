"""Hypothesis settings profiles for the conformance suite.

``conformance/conftest.py`` imports this module (which registers the profiles) and selects one
with ``--hypothesis-profile``; "unixipc-fast" is the default.

* ``unixipc-fast``: few examples, derandomized (the same examples every run, so the suite is
  deterministic) and without an example database; the default.
* ``unixipc-thorough``: many random examples, with hypothesis' example database so that a
  failure found once is replayed first next time; for a nightly or release run.

Both have ``deadline=None`` (socket calls have uneven latency on a loaded machine and a deadline
would make the suite flaky) and suppress ``HealthCheck.function_scoped_fixture``: ``ipc_record``
is per test on purpose (one report entry per property), and property bodies make their sockets
with context managers inside each example, never with function-scoped fixtures.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

__all__ = ["DEFAULT_PROFILE", "FAST", "THOROUGH", "load_default_profile", "register_profiles"]

FAST = "unixipc-fast"
THOROUGH = "unixipc-thorough"
DEFAULT_PROFILE = FAST

_SUPPRESSED = (HealthCheck.function_scoped_fixture, HealthCheck.too_slow)


def register_profiles() -> None:
    """Register both profiles (idempotent); does not load one."""
    settings.register_profile(
        FAST,
        max_examples=12,
        deadline=None,
        database=None,  # the installed suite runs from any directory: write no .hypothesis/
        suppress_health_check=_SUPPRESSED,
        derandomize=True,
        print_blob=True,
    )
    settings.register_profile(
        THOROUGH,
        max_examples=500,
        deadline=None,
        suppress_health_check=_SUPPRESSED,
        print_blob=True,
    )


register_profiles()


def load_default_profile(config: object) -> None:
    """Load the profile named by ``--hypothesis-profile``, else "unixipc-fast".

    ``config`` is the pytest config (typed loosely: this module does not import pytest).
    """
    chosen = None
    getoption = getattr(config, "getoption", None)
    if getoption is not None:
        try:
            chosen = getoption("hypothesis_profile")
        except ValueError:  # hypothesis' pytest plugin is not active
            chosen = None
    settings.load_profile(chosen or DEFAULT_PROFILE)
