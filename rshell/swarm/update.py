"""``restart SERVICE``: a forced rolling update (``ForceUpdate`` incremented), then a wait until it converges.

The swarm replaces every task of the service as its ``UpdateConfig`` says (parallelism, delay,
monitor, failure action). The update is ours once the service's ``UpdateStatus.StartedAt`` differs
from the one before it; it has converged at ``completed``; ``paused`` and the ``rollback_*`` states
are failures, reported with the errors of the service's tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rshell.engine import Engine
from rshell.errors import Interrupted, VerbFailed
from rshell.swarm.listing import service_tasks
from rshell.swarm.targets import ServiceTarget
from rshell.verb import Context

POLL_SECONDS = 0.25
#: update states that end the wait as a failure (the swarm stopped or undid the update)
FAILED_STATES = frozenset({"paused", "rollback_started", "rollback_paused", "rollback_completed"})
#: how many task errors a failure quotes
MAX_TASK_ERRORS = 3


def force_update(engine: Engine, service: ServiceTarget) -> str | None:
    """Ask the swarm to replace the service's tasks; return the StartedAt of the update before ours."""
    api = engine.client.api
    details = api.inspect_service(service.id)
    spec = dict(details["Spec"])
    template = dict(spec.get("TaskTemplate") or {})
    template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1
    spec["TaskTemplate"] = template
    url = api._url("/services/{0}/update", service.id)
    response = api._post_json(url, data=spec, params={"version": details["Version"]["Index"]})
    api._raise_for_status(response)
    return _started_at(details)


def wait_converged(ctx: Context, service: ServiceTarget, previous: str | None, deadline: float) -> int:
    """Poll until our update completes (return the running task count); VerbFailed when it pauses,
    rolls back or outlives the deadline; Interrupted on cancel."""
    api = ctx.engine.client.api
    while True:
        details = api.inspect_service(service.id, insert_defaults=False)
        status = details.get("UpdateStatus") or {}
        state = str(status.get("State") or "") if _started_at(details) != previous else ""
        if state == "completed":
            return _running(ctx.engine, service)
        if state in FAILED_STATES:
            raise VerbFailed(_failure(ctx.engine, service, state, str(status.get("Message") or "")))
        if ctx.clock() >= deadline:
            raise VerbFailed(
                f"{service.name}: the update did not converge within the timeout (state: {state or 'pending'})"
            )
        if ctx.cancel.wait(POLL_SECONDS):
            raise Interrupted("restart cancelled while waiting for the service update (the swarm carries on)")


def _started_at(details: Mapping[str, Any]) -> str | None:
    started = (details.get("UpdateStatus") or {}).get("StartedAt")
    return str(started) if started else None


def _running(engine: Engine, service: ServiceTarget) -> int:
    tasks = service_tasks(engine, service)
    return sum(1 for task in tasks if task.get("DesiredState") == "running" and _state(task) == "running")


def _state(task: Mapping[str, Any]) -> str:
    return str((task.get("Status") or {}).get("State") or "")


def _failure(engine: Engine, service: ServiceTarget, state: str, message: str) -> str:
    errors = task_errors(engine, service)
    shown = "; ".join(errors) if errors else "no task reported an error"
    return f"{service.name}: update {state}: {message or 'no message'} (task errors: {shown})"


def task_errors(engine: Engine, service: ServiceTarget) -> list[str]:
    """The newest task errors of the service, as ``NAME.SLOT: error``."""
    tasks = sorted(service_tasks(engine, service), key=lambda task: str(task.get("UpdatedAt", "")), reverse=True)
    found: list[str] = []
    for task in tasks:
        error = (task.get("Status") or {}).get("Err")
        if error and len(found) < MAX_TASK_ERRORS:
            found.append(f"{service.name}.{task.get('Slot') or task.get('NodeID', '')[:12]}: {error}")
    return found
