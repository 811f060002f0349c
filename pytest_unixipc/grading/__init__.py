"""Black-box grading of student IPC programs against a role contract.

- :mod:`pytest_unixipc.grading.sandbox`: run an untrusted program with limits and kill
  everything it started (no pytest imports);
- :mod:`pytest_unixipc.grading.roles`: one pytest module per role, its rubric as tests;
- :mod:`pytest_unixipc.grading.results`: Gradescope, PrairieLearn and Autolab writers;
- :mod:`pytest_unixipc.grading.plugin`: the pytest plugin (options, markers, fixtures);
- :mod:`pytest_unixipc.grading.cli`: the ``unixipc-grade`` command.
"""

from pytest_unixipc.grading.sandbox import (
    Limits,
    SandboxedProcess,
    SandboxError,
    find_marked_processes,
    run_program,
)

__all__ = ["Limits", "SandboxError", "SandboxedProcess", "find_marked_processes", "run_program"]
