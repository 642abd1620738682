"""Whether a running request is still allowed: its verb and its containers, decided on what is in force now."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from rshell.engine import engine_errors
from rshell.errors import Denied, RshellError
from rshell.policy.view import Decision
from rshell.spec import ArgKind, Arguments
from rshell.swarm.targets import ServiceTarget, resolve_again
from rshell.targets import Target

if TYPE_CHECKING:
    from rshell.executor import Session

#: the reason a stream ends when its container left the caller's view (renamed, relabelled, removed)
NO_LONGER_VISIBLE = "the container is no longer visible to you"
#: the reason a bench ends when its target left the caller's policy
TARGET_GONE = "bench target {name!r} is no longer in your policy"


def still_allowed(session: Session, verb: str, args: Arguments) -> Callable[[], Decision]:
    """A check a long-running verb calls: the verb, then each container by its ID, under the session
    as it is now (a reload, a removed mapping or group, a rename out of the policy all end it).
    An engine failure raises (the caller decides whether to try again); a caller who cannot be
    identified any more is denied (fail closed). A bench target named in the policy must still be there."""
    targets = [value for value in _values(args) if isinstance(value, (Target, ServiceTarget))]
    bench_targets = _bench_targets(session, verb, args)

    def check() -> Decision:
        try:
            fresh = session.current()
        except RshellError as error:  # the caller cannot be identified now (user database out of reach)
            return Decision(False, error.message, "fail closed")
        decision = fresh.view.decide_verb(verb)
        if not decision.allowed:
            return decision
        for target in targets:
            try:
                with engine_errors(fresh.engine.url):
                    resolve_again(fresh.engine, fresh.view, target)
            except Denied:
                return Decision(False, NO_LONGER_VISIBLE, "default deny")
        now = fresh.view.settings(verb).get("targets")
        for name in bench_targets:
            if not isinstance(now, Mapping) or name not in now:
                return Decision(False, TARGET_GONE.format(name=name), "default deny")
        return decision

    return check


def _bench_targets(session: Session, verb: str, args: Arguments) -> list[str]:
    """The policy's bench targets this request named (not the words ``history`` or ``compare``)."""
    found = session.registry.get(verb)
    targets = session.view.settings(verb).get("targets")
    if found is None or not isinstance(targets, Mapping):
        return []
    kinds = {positional.key: positional.kind for positional in found.spec.positionals}
    named = (value for key, value in _items(args) if kinds.get(key) is ArgKind.BENCH_TARGET)
    return [value for value in named if isinstance(value, str) and value in targets]


def _items(args: Arguments) -> Iterator[tuple[str, object]]:
    """Every bound value with its key, each value of a repeated argument on its own."""
    for key, value in args.values.items():
        for item in value if isinstance(value, tuple) else (value,):
            yield key, item


def _values(args: Arguments) -> Iterator[object]:
    return (value for _key, value in _items(args))
