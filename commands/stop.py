"""``stop``: stop a container (SIGTERM, then SIGKILL after the timeout), and say how it ended."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from rshell.engine.deadline import MARGIN_SECONDS, bounded_call
from rshell.errors import VerbFailed
from rshell.events import Event, MessageView, Notice, Result
from rshell.policy.schema import Field, Kind
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.targets import Target
from rshell.verb import Context, Verb


class Stop(Verb):
    name = "stop"
    summary = "stop a container: SIGTERM, then SIGKILL when it has not exited after --timeout seconds"
    changes_state = True
    spec = VerbSpec(
        positionals=(Positional("container", ArgKind.CONTAINER, "container name or ID prefix"),),
        options=(Option("--timeout", ArgKind.INTEGER, "seconds to wait before killing it", minimum=0),),
    )
    settings = (
        Field(
            "stop_timeout", Kind.DURATION, "seconds the engine waits before killing, without --timeout", default=10.0
        ),
        Field("max_timeout", Kind.DURATION, "the longest --timeout a user may ask for", default=300.0),
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        target = args.get("container")
        assert isinstance(target, Target)
        grace = _grace_seconds(args, ctx)
        api = ctx.engine.client.api
        was_running = bool(api.inspect_container(target.id)["State"].get("Running"))
        started = ctx.clock()
        if was_running:
            yield Notice(f"stopping {target.name} ...")
            stop = functools.partial(api.stop, target.id, timeout=grace)  # bounded; a cancel ends the wait
            allowed = ctx.engine.timeout + grace + MARGIN_SECONDS
            bounded_call(stop, seconds=allowed, cancel=ctx.cancel, what=f"stop {target.name}")
        state = api.inspect_container(target.id)["State"]
        if state.get("Running"):
            raise VerbFailed(f"{target.name} is still running after the stop")
        elapsed = round(ctx.clock() - started, 2)
        data = {
            "container": target.name,
            "id": target.short_id,
            "state": str(state.get("Status") or "exited"),
            "exit_code": state.get("ExitCode") if isinstance(state.get("ExitCode"), int) else None,
            "already_stopped": not was_running,
            "seconds": elapsed,
        }
        text = f"{target.name} was not running" if not was_running else f"{target.name} stopped"
        yield Result(data, MessageView(f"{text}: {data['state']}, exit code {data['exit_code']} after {elapsed}s"))


def _grace_seconds(args: Arguments, ctx: Context) -> int:
    """--timeout capped by the policy's max_timeout; the policy's stop_timeout without it."""
    cap, default = ctx.settings.get("max_timeout"), ctx.settings.get("stop_timeout")
    limit = float(cap) if isinstance(cap, (int, float)) else 300.0
    asked = args.integer("timeout")
    chosen = float(asked) if asked is not None else float(default) if isinstance(default, (int, float)) else 10.0
    return int(min(chosen, limit))
