"""The README's promises: its examples run, and CI runs exactly its test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _quick_start_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", _section("Quick start"))


def test_quick_start_is_two_commands() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    assert "unixipc-conformance" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _quick_start_commands()[1].split("&&")[-1].strip()
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci_lines[-1] == test_command


def test_fixture_examples_pass(pytester: pytest.Pytester) -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section("Fixtures"), re.S)
    assert len(blocks) >= 6
    for index, block in enumerate(blocks):
        pytester.makepyfile(**{f"test_readme_example_{index}": block})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--unixipc-leak-check")
    outcomes = result.parseoutcomes()
    functions = sum(len(re.findall(r"^def test_", block, re.M)) for block in blocks)
    assert outcomes.get("passed", 0) >= functions, result.stdout.str()[-3000:]
    assert set(outcomes) == {"passed"}, result.stdout.str()[-3000:]
