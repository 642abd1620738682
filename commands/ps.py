"""``ps``: the containers the policy lets you see."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from rshell.events import Column, Event, JSONValue, MessageView, Result, TableView, View
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.swarm.listing import SERVICE_COLUMNS, TASK_COLUMNS, describe_service, task_rows
from rshell.swarm.targets import NotAManager, ServiceTarget, sees_services, visible_services
from rshell.targets import container_name, visible_containers
from rshell.verb import Context, Verb

_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_UPTIME = re.compile(r"^Up (.+?)(?: \(.*\))?$")
COLUMNS = (
    Column("name", "NAME"),
    Column("image", "IMAGE"),
    Column("state", "STATE"),
    Column("health", "HEALTH"),
    Column("uptime", "UPTIME"),
    Column("ports", "PORTS"),
)


class Ps(Verb):
    name = "ps"
    summary = "list the containers (and Swarm services) you may see; ps SERVICE lists a service's tasks"
    spec = VerbSpec(
        positionals=(Positional("service", ArgKind.SERVICE, "a Swarm service: list its tasks", optional=True),),
        options=(Option("--all", ArgKind.SWITCH, "include stopped containers"),),
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        service = args.get("service")
        if isinstance(service, ServiceTarget):
            tasks = task_rows(ctx.engine, service)
            data: dict[str, JSONValue] = {"service": service.name, "id": service.short_id, "tasks": list(tasks)}
            yield Result(data, TableView("tasks", TASK_COLUMNS, empty=f"service {service.name} has no tasks"))
            return
        rows = visible_containers(ctx.engine, ctx.view, include_stopped=args.switch("all"))
        containers = sorted((describe(row) for row in rows), key=lambda row: str(row["name"]))
        data = {"containers": list(containers)}
        extra = _services_part(ctx, data)
        yield Result(data, TableView("containers", COLUMNS, empty="no visible containers"), extra)


def _services_part(ctx: Context, data: dict[str, JSONValue]) -> tuple[View, ...]:
    """The visible services (into ``data``) when the role lists any; off a manager, one line saying so."""
    if not sees_services(ctx.view):
        return ()  # a role that can see no service is not told about the swarm
    try:
        rows = visible_services(ctx.engine, ctx.view)
    except NotAManager as error:
        data["swarm"] = error.message
        return (MessageView(error.message),)
    services = sorted((describe_service(row) for row in rows), key=lambda row: str(row["name"]))
    data["services"] = list(services)
    return (TableView("services", SERVICE_COLUMNS, empty="no visible services"),)


def describe(row: Mapping[str, Any]) -> dict[str, JSONValue]:
    """One container of the engine's list as ps shows it."""
    status = str(row.get("Status") or "")
    health = _HEALTH.search(status)
    uptime = _UPTIME.match(status)
    return {
        "name": container_name(row),
        "id": str(row.get("Id", ""))[:12],
        "image": str(row.get("Image", "")),
        "state": str(row.get("State", "")),
        "health": health.group(1).replace("health: ", "") if health else None,
        "uptime": uptime.group(1) if uptime else None,
        "status": status,
        "ports": [_port(port) for port in row.get("Ports") or []],
    }


def _port(port: Mapping[str, Any]) -> str:
    private = f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
    if port.get("PublicPort"):
        return f"{port.get('IP', '')}:{port.get('PublicPort')}->{private}"
    return private
