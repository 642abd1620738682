"""One request through the pipeline: verb lookup, binding, decision, targets, limits, audit, run."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

from rshell.audit import AuditLog
from rshell.binding import bind
from rshell.engine import Engine, engine_errors
from rshell.errors import Denied, ExitStatus, Interrupted, RshellError, UnknownVerb
from rshell.events import Event
from rshell.lexer import MAX_LINE_BYTES, Request
from rshell.policy.model import Policy
from rshell.policy.view import PolicyView
from rshell.ratelimit import RateLimiter
from rshell.registry import Registry
from rshell.spec import ArgKind, Arguments
from rshell.targets import Target, resolve_container
from rshell.verb import CancelSignal, Context, Verb
from rshell.verbhelp import help_result


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
    """Yield the verb's events; raise RshellError (with its exit status) when it is refused or fails."""
    started = time.monotonic()
    record = _caller(session) | {"verb": request.verb, "argv": list(request.argv), "targets": [], "decision": "denied"}
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
        record.update(phase="done", exit_code=int(status), duration_ms=round((time.monotonic() - started) * 1000, 1))
        session.audit.write(record)


def audit_refused_line(session: Session, line: str, error: RshellError) -> None:
    """Record a line refused before it named a verb (shell syntax, control bytes, bad UTF-8, too long)."""
    record = _caller(session) | {"verb": None, "argv": [], "line": line[:MAX_LINE_BYTES], "targets": []}
    record |= {"decision": "refused", "reason": error.message, "phase": "done", "exit_code": int(error.status)}
    with contextlib.suppress(RshellError):  # nothing ran; the refusal stands even if it cannot be recorded
        session.audit.write(record | {"duration_ms": 0.0})


def _caller(session: Session) -> dict[str, object]:
    principal = session.view.principal
    return {"uid": principal.uid, "user": principal.user, "pid": os.getpid(), "mode": session.mode}


def _pipeline(session: Session, request: Request, record: dict[str, object]) -> Iterator[Event]:
    verb = session.registry.get(request.verb)
    if verb is None:
        raise UnknownVerb(_unknown_message(session, request.verb))
    args = bind(verb.name, verb.spec, request.argv)
    if args.switch("help"):
        record.update(decision="allowed", reason="help")
        yield help_result(verb)
        return
    decision = session.view.decide_verb(verb.name)
    record["reason"] = decision.reason
    if not decision.allowed:
        raise Denied(decision.reason)
    args = _resolve_targets(session, verb, args, record)
    record["decision"] = "allowed"
    if verb.changes_state:
        _limit(session, verb, args)
        session.audit.write({**record, "phase": "intent"}, sync=True)
    try:
        with engine_errors(session.engine.url):
            yield from verb.run(session.context(verb), args)
    finally:
        if verb.changes_state:
            session.engine.forget_containers()


def _resolve_targets(session: Session, verb: Verb, args: Arguments, record: dict[str, object]) -> Arguments:
    targets: list[dict[str, str]] = []
    for positional in verb.spec.positionals:
        text = args.optional_text(positional.key)
        if positional.kind is not ArgKind.CONTAINER or text is None:
            continue
        with engine_errors(session.engine.url):
            target = resolve_container(session.engine.client, session.view, text)
        targets.append({"id": target.id, "name": target.name})
        record["reason"] = f"{record['reason']}; {target.decision.reason if target.decision else ''}"
        args = args.replace(positional.key, target)
    record["targets"] = targets
    return args


def _limit(session: Session, verb: Verb, args: Arguments) -> None:
    limit = session.view.limit(verb.name)
    if limit is None:
        return
    names = [value.name for value in args.values.values() if isinstance(value, Target)]
    for name in names or ["*"]:
        session.limiter.acquire(verb.name, name, limit)


def _unknown_message(session: Session, name: str) -> str:
    allowed = session.view.allowed_verbs(set(session.registry.names()))
    close = [verb for verb in allowed if verb == session.registry.suggest(name)]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown verb {name!r}{hint} (type 'help' for the verbs you may use)"
