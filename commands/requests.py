"""``requests``: the caller's own approval requests, newest first: what, its state, why, who decided, until when."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from rshell.approvals.store import APPROVED, EXPIRED, PENDING, ApprovalStore, Request
from rshell.events import Column, Event, JSONValue, Result, TableView
from rshell.spec import Arguments
from rshell.verb import Context, Verb

COLUMNS = (
    Column("id", "ID"),
    Column("verb", "VERB"),
    Column("target", "TARGET"),
    Column("state", "STATE"),
    Column("reason", "REASON"),
    Column("decided_by", "DECIDED BY"),
    Column("expires_in", "EXPIRES"),
)


class Requests(Verb):
    name = "requests"
    summary = "list your own approval requests: verb, target, state, reason, who decided, when it expires"
    description = (
        "A verb the policy puts under approval waits for an approver; each such wait is a request. "
        "Running the same command again waits for the same request, or runs it once approved."
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        uid, now = ctx.view.principal.uid, time.time()
        mine = [row(request, now) for request in ApprovalStore(ctx.state_dir).peek() if _requester(request) == uid]
        table = TableView("requests", COLUMNS, empty="you have no approval requests")
        yield Result({"requests": mine}, table)


def _requester(request: Request) -> object:
    return _mapping(request.get("requester")).get("uid")


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def row(request: Request, now: float) -> dict[str, JSONValue]:
    """One request as the caller sees it; one past its ttl is shown expired (the broker records it so later)."""
    shown = _mapping(request.get("shown"))
    targets = shown.get("targets")
    names = [str(t.get("name") or t.get("id")) for t in targets or [] if isinstance(t, dict)]
    expires = request.get("expires")
    expires_at = float(expires) if isinstance(expires, (int, float)) else None
    state = str(request.get("state"))
    if state in (PENDING, APPROVED) and expires_at is not None and now >= expires_at:
        state = EXPIRED
    decided = _mapping(request.get("decided_by"))
    left = "-" if expires_at is None or state not in (PENDING, APPROVED) else f"{max(0, round(expires_at - now))}s"
    return {
        "id": str(request.get("id")),
        "verb": str(shown.get("verb") or "-"),
        "target": ",".join(names) or "-",
        "state": state,
        "reason": str(request.get("reason") or "-"),
        "decided_by": str(decided.get("user")) if decided.get("user") else None,
        "decision_reason": str(request.get("decision_reason")) if request.get("decision_reason") else None,
        "created": request.get("created") if isinstance(request.get("created"), (int, float)) else None,
        "expires": expires_at,
        "expires_in": left,
    }
