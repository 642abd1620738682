"""Rows for ``ps``: visible services (mode, replicas, update state) and one service's tasks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rshell.engine import Engine
from rshell.events import Column, JSONValue
from rshell.swarm.targets import ServiceTarget, service_name

SERVICE_COLUMNS = (
    Column("name", "SERVICE"),
    Column("image", "IMAGE"),
    Column("mode", "MODE"),
    Column("replicas", "REPLICAS"),
    Column("update", "UPDATE"),
)
TASK_COLUMNS = (
    Column("name", "TASK"),
    Column("node", "NODE"),
    Column("desired_state", "DESIRED"),
    Column("current_state", "CURRENT"),
    Column("error", "ERROR"),
)


def describe_service(row: Mapping[str, Any]) -> dict[str, JSONValue]:
    """One service of the engine's list as ps shows it (replicas as running/desired)."""
    spec = row.get("Spec") or {}
    status = row.get("ServiceStatus") or {}
    running, desired = int(status.get("RunningTasks") or 0), int(status.get("DesiredTasks") or 0)
    return {
        "name": service_name(row),
        "id": str(row.get("ID", ""))[:12],
        "image": _image(spec),
        "mode": "global" if "Global" in (spec.get("Mode") or {}) else "replicated",
        "replicas": f"{running}/{desired}",
        "running": running,
        "desired": desired,
        "update": update_state(row),
    }


def update_state(row: Mapping[str, Any]) -> str | None:
    """The last update's state (updating, paused, completed, rollback_...), None if never updated."""
    state = (row.get("UpdateStatus") or {}).get("State")
    return str(state) if state else None


def _image(spec: Mapping[str, Any]) -> str:
    image = str(((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", ""))
    return image.split("@sha256:", maxsplit=1)[0]  # docker shows the reference without its pinned digest


def node_names(engine: Engine) -> dict[str, str]:
    """Node ID -> hostname, as docker prints nodes."""
    return {
        str(node["ID"]): str((node.get("Description") or {}).get("Hostname", "")) for node in engine.client.api.nodes()
    }


def service_tasks(engine: Engine, service: ServiceTarget) -> list[dict[str, Any]]:
    """The service's tasks (the filter is by full ID; each row's service is checked again)."""
    rows = engine.client.api.tasks(filters={"service": service.id})
    return [row for row in rows if row.get("ServiceID") == service.id]


def describe_task(service: ServiceTarget, row: Mapping[str, Any], nodes: Mapping[str, str]) -> dict[str, JSONValue]:
    """One task as ``docker service ps`` shows it: slot, node, desired and current state, error."""
    status = row.get("Status") or {}
    slot = row.get("Slot")
    task_id = str(row.get("ID", ""))
    node_id = str(row.get("NodeID", ""))
    return {
        "name": f"{service.name}.{slot}" if slot else f"{service.name}.{node_id[:12]}",
        "id": task_id[:12],
        "slot": int(slot) if slot else None,
        "node": nodes.get(node_id, node_id[:12]),
        "desired_state": str(row.get("DesiredState", "")),
        "current_state": str(status.get("State", "")),
        "error": str(status.get("Err")) if status.get("Err") else None,
        "updated": str(row.get("UpdatedAt", "")),
    }


def task_rows(engine: Engine, service: ServiceTarget) -> list[dict[str, JSONValue]]:
    """The service's tasks for ps: by slot, the newest first within it."""
    nodes = node_names(engine)
    rows = sorted(service_tasks(engine, service), key=lambda row: str(row.get("UpdatedAt", "")), reverse=True)
    described = [describe_task(service, row, nodes) for row in rows]
    return sorted(described, key=lambda row: int(row["slot"] or 0) if isinstance(row["slot"], int) else 0)
