"""``start``: start a stopped container, then wait until it runs (and is healthy, if it has a healthcheck)."""

from __future__ import annotations

from collections.abc import Iterator

from rshell.containers.readiness import wait_seconds, wait_until_ready
from rshell.events import Event, MessageView, Notice, Result
from rshell.policy.schema import Field, Kind
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.targets import Target
from rshell.verb import Context, Verb


class Start(Verb):
    name = "start"
    summary = "start a container and wait until it is running (and healthy when it has a healthcheck)"
    changes_state = True
    spec = VerbSpec(
        positionals=(Positional("container", ArgKind.CONTAINER, "container name or ID prefix"),),
        options=(Option("--timeout", ArgKind.INTEGER, "seconds to wait for it to be running", minimum=1),),
    )
    settings = (Field("max_timeout", Kind.DURATION, "the longest --timeout a user may ask for", default=300.0),)

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        target = args.get("container")
        assert isinstance(target, Target)
        wait = wait_seconds(args, ctx)
        api = ctx.engine.client.api
        started = ctx.clock()
        already = bool(api.inspect_container(target.id)["State"].get("Running"))
        if not already:
            yield Notice(f"starting {target.name} ...")
            api.start(target.id)
        health = wait_until_ready(ctx, api, target, started + wait, "start")
        elapsed = round(ctx.clock() - started, 2)
        data = {
            "container": target.name,
            "id": target.short_id,
            "state": "running",
            "health": health,
            "already_running": already,
            "seconds": elapsed,
        }
        shown = f", {health}" if health else ""
        verb = "was already running" if already else "started: running"
        yield Result(data, MessageView(f"{target.name} {verb}{shown} after {elapsed}s"))
