"""``restart``: restart a container, then wait until it runs (and is healthy, if it has a healthcheck)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rshell.errors import Interrupted, VerbFailed
from rshell.events import Event, MessageView, Notice, Result
from rshell.policy.schema import Field, Kind
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.targets import Target
from rshell.verb import Context, Verb

POLL_SECONDS = 0.25
#: how long a container without a healthcheck must keep running after the restart to count as up
SETTLE_SECONDS = 1.0


class Restart(Verb):
    name = "restart"
    summary = "restart a container and wait until it is running (and healthy when it has a healthcheck)"
    changes_state = True
    spec = VerbSpec(
        positionals=(Positional("container", ArgKind.CONTAINER, "container name or ID prefix"),),
        options=(Option("--timeout", ArgKind.INTEGER, "seconds to wait for it to be running again", minimum=1),),
    )
    settings = (
        Field("max_timeout", Kind.DURATION, "the longest --timeout a user may ask for", default=300.0),
        Field("stop_timeout", Kind.DURATION, "seconds the engine waits before killing on stop", default=10.0),
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        target = args.get("container")
        assert isinstance(target, Target)
        wait = _wait_seconds(args, ctx)
        stop_timeout = ctx.settings.get("stop_timeout")
        yield Notice(f"restarting {target.name} ...")
        started = ctx.clock()
        api = ctx.engine.client.api
        api.restart(target.id, timeout=int(stop_timeout) if isinstance(stop_timeout, (int, float)) else 10)
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


def _wait_seconds(args: Arguments, ctx: Context) -> float:
    cap = ctx.settings.get("max_timeout")
    limit = float(cap) if isinstance(cap, (int, float)) else 300.0
    asked = args.integer("timeout")
    return min(float(asked), limit) if asked is not None else min(60.0, limit)


def _wait_until_ready(ctx: Context, api: Any, target: Target, deadline: float) -> str | None:
    """Poll until running (and healthy if there is a healthcheck); raise VerbFailed on failure.

    Without a healthcheck, "running" must hold for SETTLE_SECONDS: a command that exits at once is
    still running at the first poll, and reporting that as a success would be a lie.
    """
    settled_at = ctx.clock() + SETTLE_SECONDS
    while True:
        state = api.inspect_container(target.id)["State"]
        health = (state.get("Health") or {}).get("Status")
        if state.get("Running") and health == "healthy":
            return "healthy"
        if state.get("Running") and health is None and ctx.clock() >= min(settled_at, deadline):
            return None
        if not state.get("Running") and not state.get("Restarting"):
            raise VerbFailed(f"{target.name} did not stay up after the restart (exit code {state.get('ExitCode')})")
        if health == "unhealthy":
            raise VerbFailed(f"{target.name} is running but unhealthy after the restart")
        if ctx.clock() >= deadline:
            raise VerbFailed(
                f"{target.name} was not running and healthy within the timeout (state: {health or state.get('Status')})"
            )
        if ctx.cancel.wait(POLL_SECONDS):
            raise Interrupted("restart cancelled while waiting for the container")
