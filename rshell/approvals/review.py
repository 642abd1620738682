"""The broker's side of ``rshellctl requests|approve|deny``: the approver is the SO_PEERCRED principal."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rshell.approvals.store import APPROVED, DENIED, EXPIRED, PENDING, RAN, ApprovalStore, Request
from rshell.errors import Denied, UsageError, VerbFailed
from rshell.policy.model import Approval, Policy
from rshell.policy.view import Principal

if TYPE_CHECKING:
    from rshell.executor import Session

#: the broker ops of this module
APPROVAL_OPS = frozenset({"requests", "approve", "deny"})
MAX_DECISION_REASON = 512
#: what a listed request shows
SHOWN_KEYS: tuple[str, ...] = ("id", "state", "created", "expires", "requester", "role", "shown", "reason")
SHOWN_KEYS += ("decided_by", "decision_reason")  # once decided: by whom and why


def review(message: dict[str, Any], session: Session, peer_pid: int) -> dict[str, Any]:
    """Answer one op for the caller ``session`` is for; RshellError (with its exit status) when refused."""
    op, principal = message.get("op"), session.view.principal
    store = ApprovalStore(session.policy.state_dir)

    def audit(request: Request, event: str, **extra: object) -> None:
        caller = {"uid": principal.uid, "user": principal.user, "pid": peer_pid, "mode": "ctl", "mode_source": "broker"}
        step = {"verb": request.get("action", {}).get("verb"), "targets": request.get("shown", {}).get("targets", [])}
        step |= {"phase": "approval", "event": event, "decision": event, "request": request["id"]}
        session.audit.write(caller | step | {"requester": request.get("requester", {}).get("user"), **extra}, sync=True)

    def expired(request: Request) -> None:
        audit(request, EXPIRED)

    if op == "requests":
        visible = [shown(r) for r in store.all(expired) if _concerns(r, principal, session.policy)]
        return {"op": "requests", "requests": visible}
    key, reason = message.get("id"), message.get("reason", "")
    if not isinstance(key, str) or not isinstance(reason, str) or len(reason) > MAX_DECISION_REASON:
        raise UsageError(f"{op} needs a request ID and a reason of at most {MAX_DECISION_REASON} characters")
    if op == "deny" and not reason:
        raise UsageError("deny needs --reason: the requester is told why")
    outcome, decided_now = (APPROVED if op == "approve" else DENIED), []

    def decide(request: Request) -> Request | None:
        _may_decide(request, principal, session.policy)
        if request["state"] != PENDING:
            return None
        by = {"uid": principal.uid, "user": principal.user, "time": time.time()}
        decided_now.append(by)
        return request | {"state": outcome, "decided_by": by, "decision_reason": reason}

    request = store.change(key, expired, decide)
    if not decided_now:  # two approvals run it once: the second changes nothing and says so
        decided = request.get("decided_by") or {}
        who = f" by {decided.get('user')}" if decided else ""
        state = {RAN: "approved and has run", EXPIRED: "expired"}.get(request["state"], f"{request['state']}{who}")
        raise VerbFailed(f"request {request['id']} is already {state}: nothing changed")
    audit(request, outcome, reason=reason)
    return {"op": op, "request": shown(request)}


def shown(request: Request) -> dict[str, Any]:
    return {key: request.get(key) for key in SHOWN_KEYS}


def _rule(request: Request, policy: Policy) -> Approval | None:
    role = policy.roles.get(str(request.get("role")))
    return role.approval if role is not None else None


def _concerns(request: Request, principal: Principal, policy: Policy) -> bool:
    """A request the caller made, or one the policy in force lets them decide."""
    if request.get("requester", {}).get("uid") == principal.uid:
        return True
    rule = _rule(request, policy)
    return rule is not None and rule.may_approve(principal.user, principal.groups)


def _may_decide(request: Request, principal: Principal, policy: Policy) -> None:
    requester = request.get("requester", {})
    if requester.get("uid") == principal.uid or requester.get("user") == principal.user:
        raise Denied(f"request {request['id']} is your own: another approver must decide it")
    rule = _rule(request, policy)
    if rule is None or not rule.may_approve(principal.user, principal.groups):
        raise Denied(f"you are not an approver of role {request.get('role')}'s requests (roles.*.approval.approvers)")
