"""Wait until a container that was (re)started is up: running, and healthy when it has a healthcheck."""

from __future__ import annotations

from typing import Any

from rshell.errors import Interrupted, VerbFailed
from rshell.spec import Arguments
from rshell.targets import Target
from rshell.verb import Context

POLL_SECONDS = 0.25
#: how long a container without a healthcheck must keep running after the restart to count as up
SETTLE_SECONDS = 1.0


def wait_seconds(args: Arguments, ctx: Context, default: float = 60.0) -> float:
    """``--timeout`` capped by the verb's ``max_timeout`` setting (the default when not given)."""
    cap = ctx.settings.get("max_timeout")
    limit = float(cap) if isinstance(cap, (int, float)) else 300.0
    asked = args.integer("timeout")
    return min(float(asked), limit) if asked is not None else min(default, limit)


def wait_until_ready(ctx: Context, api: Any, target: Target, deadline: float, action: str = "restart") -> str | None:
    """Poll until running (and healthy if there is a healthcheck); raise VerbFailed on failure.

    Without a healthcheck, "running" must hold for SETTLE_SECONDS: a command that exits at once is
    still running at the first poll, and reporting that as a success would be a lie. Returns the
    health status ("healthy") or None for a container without a healthcheck.
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
            raise VerbFailed(f"{target.name} did not stay up after the {action} (exit code {state.get('ExitCode')})")
        if health == "unhealthy":
            raise VerbFailed(f"{target.name} is running but unhealthy after the {action}")
        if ctx.clock() >= deadline:
            raise VerbFailed(
                f"{target.name} was not running and healthy within the timeout (state: {health or state.get('Status')})"
            )
        if ctx.cancel.wait(POLL_SECONDS):
            raise Interrupted(f"{action} cancelled while waiting for the container")
