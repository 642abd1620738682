"""Resolve container arguments to one engine object before any decision is made."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rshell.engine import Engine
from rshell.errors import Denied
from rshell.policy.view import Decision, PolicyView

#: one answer for "no such container", "ambiguous prefix" and "hidden by policy": probing reveals nothing
NOT_VISIBLE = "no single container {text!r} is visible to you (none or several match, or the policy hides it)"

#: what the engine accepts as a container name or ID prefix; anything else could walk its URL paths
CONTAINER_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


@dataclass(frozen=True)
class Target:
    """A container as the engine resolved it, with the decision that admitted it."""

    id: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    decision: Decision | None = None
    #: whether the container has a terminal (its logs are then a raw stream, not frames)
    tty: bool = False

    @property
    def short_id(self) -> str:
        return self.id[:12]


def visible_containers(engine: Engine, view: PolicyView, *, include_stopped: bool) -> list[dict[str, Any]]:
    """The engine's container list, keeping only what the policy lets this principal see."""
    rows = engine.containers(include_stopped=include_stopped)
    return [row for row in rows if view.decide_container(container_name(row), row.get("Labels") or {}).allowed]


def container_name(row: Mapping[str, Any]) -> str:
    names = row.get("Names") or ["/"]
    return str(names[0]).lstrip("/")


def resolve_container(client: Any, view: PolicyView, text: str) -> Target:
    """Ask the engine which container ``text`` (name or ID prefix) means; deny if it is not visible."""
    from docker import errors as docker_errors  # noqa: PLC0415

    if not CONTAINER_REFERENCE.fullmatch(text):  # no "/", ".", ".." or look-alikes reach the engine's URL paths
        raise Denied(NOT_VISIBLE.format(text=text))
    try:
        details = client.api.inspect_container(text)
    except docker_errors.NotFound:
        raise Denied(NOT_VISIBLE.format(text=text)) from None
    except docker_errors.APIError as error:
        if error.status_code in (400, 409) or "multiple" in str(error).lower():
            raise Denied(NOT_VISIBLE.format(text=text)) from None
        raise
    name = str(details.get("Name", "")).lstrip("/")
    labels = (details.get("Config") or {}).get("Labels") or {}
    decision = view.decide_container(name, labels)
    if not decision.allowed:
        raise Denied(NOT_VISIBLE.format(text=text))
    tty = bool((details.get("Config") or {}).get("Tty"))
    return Target(id=str(details["Id"]), name=name, labels=dict(labels), decision=decision, tty=tty)
