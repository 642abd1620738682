"""``restart``: restart a container, then wait until it runs (and is healthy, if it has a healthcheck)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from rshell.containers.readiness import wait_until_ready
from rshell.engine.deadline import MARGIN_SECONDS, bounded_call
from rshell.events import Event, JSONValue, MessageView, Notice, Result
from rshell.policy.schema import Field, Kind
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.swarm.targets import ServiceTarget
from rshell.swarm.update import force_update, wait_converged
from rshell.targets import Target
from rshell.verb import Context, Verb


class Restart(Verb):
    name = "restart"
    summary = "restart a container and wait until it is running (and healthy when it has a healthcheck)"
    description = (
        "A Swarm service is restarted by a forced rolling update, waiting until it converges. "
        "A name that is both a visible container and a visible service means the container; "
        "--service means the service."
    )
    changes_state = True
    spec = VerbSpec(
        positionals=(Positional("container", ArgKind.WORKLOAD, "container (or Swarm service) name or ID prefix"),),
        options=(
            Option("--timeout", ArgKind.INTEGER, "seconds to wait for it to be running again", minimum=1),
            Option("--service", ArgKind.SWITCH, "the name is a Swarm service's (not a container's)"),
        ),
    )
    settings = (
        Field("max_timeout", Kind.DURATION, "the longest --timeout a user may ask for", default=300.0),
        Field("stop_timeout", Kind.DURATION, "seconds the engine waits before killing on stop", default=10.0),
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        target = args.get("container")
        if isinstance(target, ServiceTarget):
            yield from _restart_service(ctx, target, _wait_seconds(args, ctx))
            return
        assert isinstance(target, Target)
        wait = _wait_seconds(args, ctx)
        stop_timeout = ctx.settings.get("stop_timeout")
        yield Notice(f"restarting {target.name} ...")
        started = ctx.clock()
        api = ctx.engine.client.api
        grace = int(stop_timeout) if isinstance(stop_timeout, (int, float)) else 10
        # dockerd answers once the container stopped (up to ``grace``) and started: bounded, and a cancel ends the wait
        allowed = ctx.engine.timeout + grace + MARGIN_SECONDS
        restart = functools.partial(api.restart, target.id, timeout=grace)
        bounded_call(restart, seconds=allowed, cancel=ctx.cancel, what=f"restart {target.name}")
        state = _wait_until_ready(ctx, api, target, started + wait)
        elapsed = round(ctx.clock() - started, 2)
        data = {
            "container": target.name,
            "id": target.short_id,
            "state": "running",
            "health": state,
            "seconds": elapsed,
        }
        health = f", {state}" if state else ""
        yield Result(data, MessageView(f"{target.name} restarted: running{health} after {elapsed}s"))


def _restart_service(ctx: Context, service: ServiceTarget, wait: float) -> Iterator[Event]:
    """A forced rolling update, then a wait until the swarm reports it completed (or failed)."""
    yield Notice(f"updating service {service.name} (forced rolling update) ...")
    started = ctx.clock()
    previous = force_update(ctx.engine, service)
    running = wait_converged(ctx, service, previous, started + wait)
    elapsed = round(ctx.clock() - started, 2)
    data: dict[str, JSONValue] = {"service": service.name, "id": service.short_id, "state": "completed"}
    data |= {"running": running, "seconds": elapsed}
    text = f"service {service.name} updated: {running} task(s) running after {elapsed}s"
    yield Result(data, MessageView(text))


def _wait_seconds(args: Arguments, ctx: Context) -> float:
    cap = ctx.settings.get("max_timeout")
    limit = float(cap) if isinstance(cap, (int, float)) else 300.0
    asked = args.integer("timeout")
    return min(float(asked), limit) if asked is not None else min(60.0, limit)


def _wait_until_ready(ctx: Context, api: Any, target: Target, deadline: float) -> str | None:
    """Poll until running (and healthy if there is a healthcheck); shared with ``start``."""
    return wait_until_ready(ctx, api, target, deadline, "restart")
