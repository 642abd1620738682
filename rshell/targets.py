"""Resolve container arguments to one visible container before any decision is made.

Resolution looks only among the containers the caller may see: the engine's list is filtered by
the policy first, then the text is matched (exact name, full ID, ID prefix unique among the
visible ones). A hidden name and one that does not exist take the same path, and the engine is
never asked about the caller's text, so neither the answer nor its timing tells them apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rshell.engine import Engine
from rshell.errors import Denied
from rshell.policy.view import Decision, PolicyView

#: one answer for "no such container", "ambiguous prefix" and "hidden by policy": probing reveals nothing
NOT_VISIBLE = "no single container {text!r} is visible to you (none or several match, or the policy hides it)"

#: what a container name or ID prefix may look like; anything else is refused before any lookup
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


def visible_containers(
    engine: Engine, view: PolicyView, *, include_stopped: bool, fresh: bool = False
) -> list[dict[str, Any]]:
    """The engine's container list, keeping only what the policy lets this principal see."""
    rows = engine.containers(include_stopped=include_stopped, fresh=fresh)
    return [row for row in rows if decide_row(engine, view, row).allowed]


def decide_row(engine: Engine, view: PolicyView, row: Mapping[str, Any]) -> Decision:
    """The policy's decision on one row of the engine's list (its labels judged per ``label_source``)."""
    return _decide(engine, view, container_name(row), row.get("Labels") or {}, str(row.get("ImageID") or ""))


def container_name(row: Mapping[str, Any]) -> str:
    names = row.get("Names") or ["/"]
    return str(names[0]).lstrip("/")


def resolve_container(engine: Engine, view: PolicyView, text: str) -> Target:
    """The one visible container ``text`` (name, ID or ID prefix) means; Denied(NOT_VISIBLE) otherwise."""
    if not CONTAINER_REFERENCE.fullmatch(text):  # no "/", ".", ".." or look-alikes
        raise Denied(NOT_VISIBLE.format(text=text))
    row = match_visible(visible_containers(engine, view, include_stopped=True), text)
    if row is None:  # the broker's shared list may predate a container made a moment ago: ask afresh once
        # (hidden and nonexistent names both come here, so they still take the same path and time)
        row = match_visible(visible_containers(engine, view, include_stopped=True, fresh=True), text)
    if row is None:
        raise Denied(NOT_VISIBLE.format(text=text))
    return _inspect_visible(engine, view, str(row["Id"]), text)


def match_visible(rows: Sequence[Mapping[str, Any]], text: str) -> Mapping[str, Any] | None:
    """Exact name, else full ID, else the one row whose ID starts with ``text`` (None if none or several)."""
    for row in rows:
        if container_name(row) == text:
            return row
    for row in rows:
        if str(row.get("Id", "")) == text:
            return row
    matches = [row for row in rows if str(row.get("Id", "")).startswith(text)]
    return matches[0] if len(matches) == 1 else None


def _inspect_visible(engine: Engine, view: PolicyView, container_id: str, text: str) -> Target:
    """Inspect the chosen container by its ID and decide again on what the engine says now (the list
    may be a moment old: a container renamed out of the policy since then is not visible)."""
    from docker import errors as docker_errors  # noqa: PLC0415

    try:
        details = engine.client.api.inspect_container(container_id)
    except docker_errors.NotFound:
        raise Denied(NOT_VISIBLE.format(text=text)) from None
    config = details.get("Config") or {}
    name = str(details.get("Name", "")).lstrip("/")
    labels = config.get("Labels") or {}
    decision = _decide(engine, view, name, labels, str(details.get("Image") or ""))
    if not decision.allowed:
        raise Denied(NOT_VISIBLE.format(text=text))
    return Target(id=str(details["Id"]), name=name, labels=dict(labels), decision=decision, tty=bool(config.get("Tty")))


def _decide(engine: Engine, view: PolicyView, name: str, labels: Mapping[str, str], image_id: str) -> Decision:
    rule = view.containers
    if not rule.needs_image_labels:
        return view.decide_container(name, labels)
    # the image is asked about only when a selector matches the merged labels (else own ones cannot match);
    # which rows those are does not depend on the caller's text, so neither does the time taken
    could_match = rule.selector_match(labels) is not None and bool(image_id)
    image_labels = engine.image_labels(image_id) if could_match else None
    return view.decide_container(name, rule.selector_labels(labels, image_labels))
