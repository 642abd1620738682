"""One request through the pipeline: verb lookup, binding, decision, targets, limits, audit, run."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rshell.approvals.gate import approval_rule, await_approval, split_reason
from rshell.audit import AuditLog, argv_fields, line_fields
from rshell.authority.recheck import still_allowed
from rshell.binding import bind
from rshell.engine import Engine, engine_errors
from rshell.engine.pool import STREAM_OWNER
from rshell.errors import Denied, ExitStatus, Interrupted, RshellError, UnknownVerb
from rshell.events import Event
from rshell.lexer import MAX_LINE_BYTES, Request
from rshell.policy.model import Policy
from rshell.policy.view import PolicyView
from rshell.ratelimit import RateLimiter
from rshell.registry import Registry
from rshell.spec import ArgKind, Arguments, Positional
from rshell.swarm.targets import SERVICE_SWITCH, ServiceTarget, resolve_argument
from rshell.targets import Target
from rshell.verb import CancelSignal, Context, Verb
from rshell.verbhelp import HELP_FLAG, help_result, unknown_verb_message

if TYPE_CHECKING:
    from rshell.broker.turns import Turns


@dataclass
class Session:
    """Everything one caller's requests share: policy view, verbs, engine, audit log, limits."""

    policy: Policy
    view: PolicyView
    registry: Registry
    engine: Engine
    audit: AuditLog
    limiter: RateLimiter
    mode: str
    cancel: threading.Event = field(default_factory=CancelSignal)
    #: builds this session again from what is in force now (the broker: policy, groups, engine, audit,
    #: limits); None (in-process) means this session is always current
    renew: Callable[[Session], Session] | None = None
    #: the client's pid as the kernel reported it (SO_PEERCRED) in the broker; None: this process
    peer_pid: int | None = None
    #: the broker's turns per uid, at most two calls of a uid at once (rshell.broker.turns); None in-process
    turns: Turns | None = None
    #: the broker's pace of MCP messages: uid -> seconds to wait before the next (caps.mcp_rate_per_uid)
    pace_messages: Callable[[int], float] | None = None

    def current(self) -> Session:
        """This session as the policy and group membership in force now define it (same mode, cancel)."""
        return self.renew(self) if self.renew is not None else self

    def context(self, verb: Verb) -> Context:
        settings = {spec.name: spec.default for spec in verb.settings} | dict(self.view.settings(verb.name))
        return Context(
            engine=self.engine,
            view=self.view,
            settings=settings,
            state_dir=self.policy.state_dir,
            cancel=self.cancel,
            registry=self.registry,
        )


def execute(session: Session, request: Request) -> Generator[Event, None, None]:
    """Yield the verb's events; raise RshellError (with its exit status) when it is refused or fails.
    In the broker the call first waits for its uid's turn (rshell.broker.turns)."""
    turns = session.turns
    ticket = turns.take(session.view.principal.uid, session.cancel) if turns is not None else 0
    try:
        yield from _execute(session, request)
    finally:
        if turns is not None:
            turns.give_back(ticket)


def _execute(session: Session, request: Request) -> Generator[Event, None, None]:
    session = session.current()  # every request is decided on the policy and groups in force now
    session.audit.ensure_writable()  # every verb, read-only too, refuses before any output without its record
    started = time.monotonic()
    record = _caller(session) | {"verb": request.verb, **argv_fields(request.argv), "targets": []}
    record["decision"] = "denied"
    record["reason"] = ""
    status = ExitStatus.OK
    try:
        yield from _pipeline(session, request, record)
    except KeyboardInterrupt:
        status = ExitStatus.INTERRUPTED
        raise Interrupted("interrupted") from None
    except RshellError as error:
        status = error.status
        record.setdefault("error", error.message)
        if status == ExitStatus.DENIED:  # a rate limit or a verb's own cap denies after the policy allowed
            record["decision"] = "denied"
        raise
    except BaseException:
        status = ExitStatus.FAILED
        raise
    finally:
        essential = record.get("phase") == "intent"  # a state change's done record is never suppressed
        record.update(phase="done", exit_code=int(status), duration_ms=round((time.monotonic() - started) * 1000, 1))
        session.audit.write(record, essential=essential)


def audit_refused_line(session: Session, line: str, error: RshellError) -> None:
    """Record a line refused before it named a verb (shell syntax, control bytes, bad UTF-8, too long)."""
    record = _caller(session) | {"verb": None, "argv": [], **line_fields(line[:MAX_LINE_BYTES]), "targets": []}
    record |= {"decision": "refused", "reason": error.message, "phase": "done", "exit_code": int(error.status)}
    with contextlib.suppress(RshellError):  # nothing ran; the refusal stands even if it cannot be recorded
        session.audit.write(record | {"duration_ms": 0.0})


#: modes a broker client declares in its run request (the broker accepts no other); the broker
#: itself sets the others (mcp, status), and in-process sessions know their own
CLIENT_DECLARED_MODES = frozenset({"c", "batch", "repl"})


def _caller(session: Session) -> dict[str, object]:
    principal = session.view.principal
    if session.peer_pid is None:
        pid, source = os.getpid(), "local"
    else:
        pid, source = session.peer_pid, "client" if session.mode in CLIENT_DECLARED_MODES else "broker"
    return {"uid": principal.uid, "user": principal.user, "pid": pid, "mode": session.mode, "mode_source": source}


def _pipeline(session: Session, request: Request, record: dict[str, object]) -> Iterator[Event]:
    verb = session.registry.get(request.verb)
    if verb is None or (HELP_FLAG in request.argv and not session.view.decide_verb(verb.name).allowed):
        raise UnknownVerb(_unknown_message(session, request.verb))  # a verb outside the role has no help
    rule = approval_rule(session.view, verb.name)  # such a verb takes --reason, whatever its spec
    argv, reason = split_reason(verb.name, request.argv) if rule is not None else (list(request.argv), "")
    args = bind(verb.name, verb.spec, argv)
    if args.switch("help"):
        record.update(decision="allowed", reason="help")
        yield help_result(verb)
        return
    decision = session.view.decide_verb(verb.name)
    record["reason"] = decision.reason
    if not decision.allowed:
        raise Denied(decision.reason)
    if session.engine.streams is not None and verb.holds_engine_stream(args):
        session.engine.streams.check(STREAM_OWNER.get())  # at the caps: refused before any engine call
    args = _resolve_targets(session, verb, args, record)
    record["decision"] = "allowed"
    if rule is not None:  # waits for an approver's decision on this exact action (rshell/approvals/gate.py)
        yield from await_approval(session, verb.name, args, reason=reason, record=record, rule=rule)
    _limit(session, verb, args)
    if verb.changes_state:
        record["action"] = secrets.token_hex(6)  # joins this intent to its done record (rshellctl audit)
        record["phase"] = "intent"
        session.audit.write(record, sync=True)
    try:
        with engine_errors(session.engine.url):
            context = dataclasses.replace(session.context(verb), still_allowed=still_allowed(session, verb.name, args))
            yield from verb.run(context, args)
    finally:
        if verb.changes_state:
            session.engine.forget_containers()


#: the argument kinds resolved to one visible target before the decision
TARGET_KINDS = frozenset({ArgKind.CONTAINER, ArgKind.SERVICE, ArgKind.WORKLOAD})


def _resolve_targets(session: Session, verb: Verb, args: Arguments, record: dict[str, object]) -> Arguments:
    targets: list[dict[str, str]] = []
    for positional in verb.spec.positionals:
        if positional.kind not in TARGET_KINDS:
            continue
        resolved: dict[str, Target | ServiceTarget] = {}  # by ID: a name and its ID prefix are one target
        for text in _words(positional, args):
            target = _resolve_one(session, positional.kind, text, args)
            if target.id in resolved:
                continue
            resolved[target.id] = target
            shown = {"id": target.id, "name": target.name}
            targets.append(shown | {"kind": "service"} if isinstance(target, ServiceTarget) else shown)
            record["reason"] = f"{record['reason']}; {target.decision.reason if target.decision else ''}"
        if positional.repeat:
            args = args.replace(positional.key, tuple(resolved.values()))
        elif resolved:
            args = args.replace(positional.key, next(iter(resolved.values())))
    record["targets"] = targets
    return args


def _words(positional: Positional, args: Arguments) -> list[str]:
    """The words a target positional was given: each of a repeatable one's, else the one (or none)."""
    if positional.repeat:
        return [str(text) for text in args.many(positional.key)]
    text = args.optional_text(positional.key)
    return [] if text is None else [text]


def _resolve_one(session: Session, kind: ArgKind, text: str, args: Arguments) -> Target | ServiceTarget:
    with engine_errors(session.engine.url):  # a WORKLOAD is a container first, unless --service
        services_only = args.switch(SERVICE_SWITCH)
        return resolve_argument(session.engine, session.view, kind, text, services_only=services_only)


def _limit(session: Session, verb: Verb, args: Arguments) -> None:
    """The role's limit for this verb, whatever the verb: one budget per container (by ID, so a
    rename keeps it), per bench target named in the policy, or one for the verb (``*``) otherwise."""
    limit = session.view.limit(verb.name)
    if limit is None:
        return
    for key, shown in _limit_keys(session, verb, args) or [("*", "")]:
        session.limiter.acquire(verb.name, key, limit, shown=shown)


def _limit_keys(session: Session, verb: Verb, args: Arguments) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    targets = session.view.settings(verb.name).get("targets")
    for positional in verb.spec.positionals:
        for value in args.many(positional.key) if positional.repeat else (args.get(positional.key),):
            if isinstance(value, (Target, ServiceTarget)):  # a service's budget is keyed by its service ID
                keys.append((value.id, value.name))
            elif positional.kind is ArgKind.BENCH_TARGET and isinstance(targets, Mapping) and value in targets:
                keys.append((str(value), str(value)))  # other words (history, compare) share "*"
    return keys


def _unknown_message(session: Session, name: str) -> str:
    return unknown_verb_message(session.view, session.registry, name)
