"""``ps``: the containers the policy lets you see."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from rshell.events import Column, Event, JSONValue, Result, TableView
from rshell.spec import ArgKind, Arguments, Option, VerbSpec
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
    summary = "list the containers you may see: name, image, state, health, uptime, ports"
    spec = VerbSpec(options=(Option("--all", ArgKind.SWITCH, "include stopped containers"),))

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        rows = visible_containers(ctx.engine, ctx.view, include_stopped=args.switch("all"))
        containers = sorted((describe(row) for row in rows), key=lambda row: str(row["name"]))
        yield Result({"containers": containers}, TableView("containers", COLUMNS, empty="no visible containers"))


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
