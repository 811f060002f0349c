"""The roles a student program can be graded as (see the grading contract).

Each role is a pytest module in this package whose tests are the role's rubric, one test per
property, marked ``@pytest.mark.ipc_property(ID, ref=...)``.  A module declares
``UNIXIPC_ROLE = "<role>"``; :data:`ROLES` says which placeholders the role's command may use
and what socket, if any, the program itself creates.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

__all__ = ["PLACEHOLDERS", "ROLES", "Role", "RubricEntry", "role_module", "rubric"]

#: Every placeholder the grader knows.
PLACEHOLDERS = ("socket", "size", "message", "count", "file", "workers")


@dataclass(frozen=True)
class Role:
    name: str
    module: str
    #: Placeholders the role's command may use.
    placeholders: tuple[str, ...]
    #: The socket kind the program creates and listens on / binds, or None for clients.
    listens: str | None
    #: The usage line of the grading contract.
    usage: str

    @property
    def module_name(self) -> str:
        return f"pytest_unixipc.grading.roles.{self.module}"


ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        Role("echo-server", "echo_server", ("socket",), "stream", "COMMAND {socket}"),
        Role("echo-client", "echo_client", ("socket",), None, "COMMAND {socket}"),
        Role(
            "dgram-receiver",
            "dgram_receiver",
            ("socket", "size"),
            "dgram",
            "COMMAND {socket} {size}",
        ),
        Role(
            "dgram-sender",
            "dgram_sender",
            ("socket", "message", "count"),
            None,
            "COMMAND {socket} {message} {count}",
        ),
        Role("seqpacket-echo", "seqpacket_echo", ("socket",), "seqpacket", "COMMAND {socket}"),
        Role("fd-sender", "fd_sender", ("socket", "file"), None, "COMMAND {socket} {file}"),
        Role("fd-receiver", "fd_receiver", ("socket",), None, "COMMAND {socket}"),
        Role(
            "prefork-echo",
            "prefork_echo",
            ("socket", "workers"),
            "stream",
            "COMMAND {socket} {workers}",
        ),
    )
}


@dataclass(frozen=True)
class RubricEntry:
    property_id: str
    test_name: str
    description: str
    points: float
    bonus: bool
    required: bool
    hidden: str | None


def role_module(role: str) -> ModuleType:
    return importlib.import_module(ROLES[role].module_name)


def rubric(role: str) -> list[RubricEntry]:
    """The role's properties in rubric order, read from its module's markers."""
    module = role_module(role)
    entries = []
    for name, obj in vars(module).items():
        if not name.startswith("test_") or not callable(obj):
            continue
        marks = {m.name: m for m in getattr(obj, "pytestmark", [])}
        prop = marks.get("ipc_property")
        if prop is None:
            continue
        points_mark = marks.get("grade_points")
        hidden_mark = marks.get("grade_hidden")
        doc = (obj.__doc__ or "").strip().splitlines()
        entries.append(
            RubricEntry(
                property_id=str(prop.args[0]),
                test_name=name,
                description=doc[0].strip() if doc else "",
                points=float(points_mark.args[0]) if points_mark and points_mark.args else 1.0,
                bonus="grade_bonus" in marks,
                required="grade_required" in marks,
                hidden=(
                    str(
                        hidden_mark.kwargs.get(
                            "visibility", hidden_mark.args[0] if hidden_mark.args else "hidden"
                        )
                    )
                    if hidden_mark
                    else None
                ),
            )
        )
    return entries
