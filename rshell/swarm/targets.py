"""Resolve service arguments to one visible Swarm service before any decision is made.

As for containers (rshell.targets): the engine's service list is filtered by the policy first, then
the text is matched (exact name, full ID, ID prefix unique among the visible ones), so a hidden
service and one that does not exist take the same path and give the same line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rshell.engine import Engine
from rshell.errors import Denied, VerbFailed
from rshell.policy.view import Decision, PolicyView
from rshell.spec import ArgKind
from rshell.targets import CONTAINER_REFERENCE, Target, resolve_container

#: the one answer for "no such service", "ambiguous prefix" and "hidden by policy"
SERVICE_NOT_VISIBLE = "no single service {text!r} is visible to you (none or several match, or the policy hides it)"
#: what a node that is not a swarm manager (or in no swarm) says about services, in one line
NOT_A_MANAGER = "this node is not a swarm manager: services are not available here"
#: the switch that makes a WORKLOAD argument name a service only
SERVICE_SWITCH = "service"


@dataclass(frozen=True)
class ServiceTarget:
    """A service as the engine resolved it, with the decision that admitted it."""

    id: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    decision: Decision | None = None

    @property
    def short_id(self) -> str:
        return self.id[:12]


class NotAManager(VerbFailed):
    """The engine has no services to offer: no swarm here, or this node is a worker."""

    def __init__(self) -> None:
        super().__init__(NOT_A_MANAGER)


def list_services(engine: Engine) -> list[dict[str, Any]]:
    """Every service the engine has, with replica counts; NotAManager off a manager."""
    from docker import errors as docker_errors  # noqa: PLC0415

    try:
        rows: list[dict[str, Any]] = engine.client.api.services(status=True)
    except docker_errors.APIError as error:
        if error.status_code == 503:  # "This node is not a swarm manager"
            raise NotAManager from None
        raise
    return rows


def decide_service(view: PolicyView, name: str, labels: Mapping[str, str]) -> Decision:
    """The policy's decision on one service (default deny; a roleless caller sees none)."""
    rule = view.role.services.match(name, labels) if view.role is not None else None
    if rule is None or view.role is None:
        return Decision(False, f"service {name!r} is not visible to you", "default deny")
    return Decision(True, f"role {view.role.name!r}: {rule}", f"roles.{view.role.name}.{rule}")


def service_name(row: Mapping[str, Any]) -> str:
    return str((row.get("Spec") or {}).get("Name", ""))


def _labels(row: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((row.get("Spec") or {}).get("Labels") or {}).items()}


def sees_services(view: PolicyView) -> bool:
    """Whether the role lists any service at all (else the engine is never asked about services)."""
    rule = view.role.services if view.role is not None else None
    return rule is not None and bool(rule.names or rule.label_selectors)


def visible_services(engine: Engine, view: PolicyView) -> list[dict[str, Any]]:
    """The engine's services that the policy lets this principal see (none, unasked, for a role without any)."""
    if not sees_services(view):
        return []
    return [row for row in list_services(engine) if decide_service(view, service_name(row), _labels(row)).allowed]


def match_service(rows: Sequence[Mapping[str, Any]], text: str) -> Mapping[str, Any] | None:
    """Exact name, else full ID, else the one row whose ID starts with ``text`` (None if none or several)."""
    for row in rows:
        if service_name(row) == text:
            return row
    for row in rows:
        if str(row.get("ID", "")) == text:
            return row
    matches = [row for row in rows if str(row.get("ID", "")).startswith(text)]
    return matches[0] if len(matches) == 1 else None


def resolve_service(engine: Engine, view: PolicyView, text: str) -> ServiceTarget:
    """The one visible service ``text`` means; Denied(SERVICE_NOT_VISIBLE), or NotAManager off a manager."""
    found = _find_service(engine, view, text)
    if found is None:
        raise Denied(SERVICE_NOT_VISIBLE.format(text=text))
    return found


def _find_service(engine: Engine, view: PolicyView, text: str) -> ServiceTarget | None:
    if not CONTAINER_REFERENCE.fullmatch(text):
        return None
    row = match_service(visible_services(engine, view), text)
    if row is None:
        return None
    return inspect_visible_service(engine, view, str(row["ID"]))


def inspect_visible_service(engine: Engine, view: PolicyView, service_id: str) -> ServiceTarget | None:
    """Inspect by ID and decide again on what the engine says now (None: gone, or out of the policy)."""
    from docker import errors as docker_errors  # noqa: PLC0415

    try:
        details = engine.client.api.inspect_service(service_id)
    except docker_errors.NotFound:
        return None
    name, labels = service_name(details), _labels(details)
    decision = decide_service(view, name, labels)
    if not decision.allowed:
        return None
    return ServiceTarget(id=str(details["ID"]), name=name, labels=labels, decision=decision)


def resolve_workload(engine: Engine, view: PolicyView, text: str, *, services_only: bool) -> Target | ServiceTarget:
    """Containers first: a visible container of that name, ID or prefix wins; then a visible service.
    ``services_only`` (the verb's ``--service``) skips containers. Off a manager the container
    answer stands (container verbs work as before), unless services were asked for."""
    if services_only:
        return resolve_service(engine, view, text)
    try:
        return resolve_container(engine, view, text)
    except Denied:
        try:
            found = _find_service(engine, view, text)
        except NotAManager:
            found = None
        if found is None:
            raise
        return found


def resolve_argument(
    engine: Engine, view: PolicyView, kind: ArgKind, text: str, *, services_only: bool
) -> Target | ServiceTarget:
    """A positional of kind CONTAINER, SERVICE or WORKLOAD, resolved among what the caller may see."""
    if kind is ArgKind.SERVICE:
        return resolve_service(engine, view, text)
    if kind is ArgKind.WORKLOAD:
        return resolve_workload(engine, view, text, services_only=services_only)
    return resolve_container(engine, view, text)


def resolve_again(engine: Engine, view: PolicyView, target: Target | ServiceTarget) -> None:
    """Resolve a target again by its ID under the view now (Denied when it is no longer visible)."""
    if isinstance(target, ServiceTarget):
        if inspect_visible_service(engine, view, target.id) is None:
            raise Denied(SERVICE_NOT_VISIBLE.format(text=target.id))
        return
    resolve_container(engine, view, target.id)
