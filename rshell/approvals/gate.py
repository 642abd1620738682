"""The executor's approval gate: find or make the request for this exact action, wait, run it once."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rshell.approvals.store import APPROVED, DENIED, EXPIRED, PENDING, RAN, ApprovalStore, Request
from rshell.authority.recheck import still_allowed
from rshell.errors import Denied, ExitStatus, Interrupted, RshellError, UsageError
from rshell.events import Event, Notice, Progress
from rshell.policy.model import Approval
from rshell.policy.view import PolicyView
from rshell.spec import Arguments
from rshell.targets import Target

if TYPE_CHECKING:
    from rshell.executor import Session

#: the option every verb that needs approval takes, whatever its spec: why the caller asks
REASON_FLAG = "--reason"
MAX_REASON_CHARS = 512
#: how often a waiting caller looks at its request (and at its cancel signal)
POLL_SECONDS = 0.25
#: the caller's fields an approval step's audit record repeats
_CALLER_KEYS = ("uid", "user", "pid", "mode", "mode_source", "verb", "targets")


class ApprovalPending(RshellError):
    """The request expired, or the wait for a decision ended before one came (exit 75)."""

    status = ExitStatus.APPROVAL_PENDING


def approval_rule(view: PolicyView, verb: str) -> Approval | None:
    """The role's approval rule when this verb needs one, else None."""
    rule = view.role.approval if view.role is not None else None
    return rule if rule is not None and verb in rule.verbs else None


def split_reason(verb: str, argv: Sequence[str]) -> tuple[list[str], str]:
    """argv without ``--reason TEXT`` (or ``--reason=TEXT``), and the reason ("" when not given)."""
    words, rest, reason, seen = [], list(argv), "", False
    while rest:
        word = rest.pop(0)
        if word == "--":
            words += [word, *rest]
            break
        flag, inline, value = word.partition("=")
        if flag != REASON_FLAG:
            words.append(word)
            continue
        if seen:
            raise UsageError(f"{verb}: {REASON_FLAG} given twice")
        if not inline and not rest:
            raise UsageError(f"{verb}: {REASON_FLAG} needs a value (TEXT)")
        reason, seen = (value if inline else rest.pop(0)), True
        if not reason or len(reason) > MAX_REASON_CHARS:
            raise UsageError(f"{verb}: {REASON_FLAG} must be 1 to {MAX_REASON_CHARS} characters")
    return words, reason


def action_of(verb: str, args: Arguments) -> dict[str, Any]:
    """What an approval is bound to: the verb and every argument, each container by its resolved ID."""
    return {"verb": verb, "args": {key: _bound(value) for key, value in sorted(args.values.items())}}


def _bound(value: object) -> object:
    """A plain value as it is; a resolved target (a container, a Swarm service) as its kind and ID."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, tuple):
        return [_bound(item) for item in value]
    if isinstance(value, Target):
        return {"container": value.id}
    ident = getattr(value, "id", None)
    return {type(value).__name__: ident} if isinstance(ident, str) else repr(value)


def await_approval(
    session: Session, verb: str, args: Arguments, *, reason: str, record: dict[str, object], rule: Approval
) -> Iterator[Event]:
    """Return once an approver has approved this action (the request is then used up); raise Denied
    (126) when one denied it, ApprovalPending (75) when it expired or ``wait`` ended, Interrupted on cancel."""
    store, action = ApprovalStore(session.policy.state_dir), action_of(verb, args)
    caller = {key: record.get(key) for key in _CALLER_KEYS}

    def audit(request: Request, event: str, **extra: object) -> None:
        step = caller | {"phase": "approval", "event": event, "decision": event, "request": request["id"], **extra}
        session.audit.write(step, sync=True)

    request = _reusable(store, session, action, lambda expired: audit(expired, EXPIRED))
    if request is None:
        admit = _pending_cap(session.view.principal.uid, rule.max_pending)
        request = store.create(_fields(session, record, action, reason), rule.ttl, admit)
        audit(request, "requested", reason=reason)
    ident = request["id"]
    waiting = f"waiting for approval: request {ident} (an approver runs: rshellctl approve {ident})"
    yield Notice(waiting)
    progress = session.mode == "mcp"  # MCP: a progress notification now and each second; a terminal: the notice
    if progress:
        yield Progress(waiting, 1, int(rule.wait) + 1)
    began, reported = time.monotonic(), 0
    deadline = began + min(rule.wait, max(0.0, float(request["expires"]) - time.time()))
    token = secrets.token_hex(8)

    def claim(request: Request) -> Request | None:  # approved -> ran, once: under the store's lock
        return request | {"state": RAN, "ran": time.time(), "claim": token} if request["state"] == APPROVED else None

    while True:
        claimed = store.change(ident, lambda expired: audit(expired, EXPIRED), claim)
        state = claimed.get("state")
        if state == RAN and claimed.get("claim") == token:
            break
        if state == DENIED:
            by = claimed.get("decided_by", {}).get("user", "?")
            raise Denied(f"request {ident} was denied by {by}: {claimed.get('decision_reason') or 'no reason given'}")
        if state in (EXPIRED, RAN):
            raise ApprovalPending(f"request {ident} {'expired' if state == EXPIRED else 'was already used'}: ask again")
        if session.cancel.is_set():
            raise Interrupted(f"interrupted while waiting for approval of request {ident} (it stays pending)")
        if time.monotonic() >= deadline:
            raise ApprovalPending(
                f"no decision on request {ident} within {rule.wait:g}s; it stays open until it expires:"
                " run the same command again to wait for it or to run it once approved"
            )
        session.cancel.wait(POLL_SECONDS)
        if progress and (waited := int(time.monotonic() - began)) > reported:
            reported = waited
            yield Progress(waiting, waited + 1, int(rule.wait) + 1)
    record["approval"] = ident
    decision = still_allowed(session, verb, args)()  # what was approved must still be allowed now
    if not decision.allowed:
        raise Denied(decision.reason)
    audit(claimed, RAN, approved_by=claimed.get("decided_by", {}).get("user"))


def _pending_cap(uid: int, most: int) -> Callable[[list[Request]], None]:
    """Refuse a new request (126) while this uid already has ``most`` pending ones (``approval.max_pending``)."""

    def admit(requests: list[Request]) -> None:
        now = time.time()
        open_ones = [
            r
            for r in requests
            if r.get("requester", {}).get("uid") == uid and r.get("state") == PENDING and float(r["expires"]) > now
        ]
        if len(open_ones) >= most:
            raise Denied(
                f"you have {len(open_ones)} pending approval requests, the most allowed (approval.max_pending);"
                " wait for a decision or for one to expire (requests lists them)"
            )

    return admit


def _reusable(store: ApprovalStore, session: Session, action: dict[str, Any], on_expired: Any) -> Request | None:
    """The caller's open request for this very action (pending, or approved and not yet run)."""
    uid = session.view.principal.uid
    for request in store.all(on_expired):
        mine = request.get("requester", {}).get("uid") == uid and request.get("role") == session.view.role_name
        if mine and request.get("state") in (PENDING, APPROVED) and request.get("action") == action:
            return request
    return None


def _fields(session: Session, record: dict[str, object], action: dict[str, Any], reason: str) -> Request:
    principal = session.view.principal
    typed = record.get("argv")
    argv = [str(word) for word in typed] if isinstance(typed, list) else []
    return {
        "requester": {"uid": principal.uid, "user": principal.user},
        "role": session.view.role_name,
        "action": action,
        "shown": {
            "verb": action["verb"],
            "argv": split_reason(action["verb"], argv)[0],
            "targets": record.get("targets"),
        },
        "reason": reason,
    }
