"""Tab completion derived from the verb specs: first decide what kind of word fits, then match."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from rshell.executor import Session
from rshell.policy.view import PolicyView
from rshell.spec import ArgKind, Option, Positional
from rshell.swarm.targets import SERVICE_SWITCH, sees_services, service_name, visible_services
from rshell.targets import container_name, visible_containers
from rshell.verb import Verb

CACHE_SECONDS = 5.0


class Candidates:
    """Names the principal may use, from the policy view and the engine (cached briefly)."""

    def __init__(self, session: Session, clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self._clock = clock
        self._containers: tuple[float, PolicyView, list[str]] | None = None
        self._services: tuple[float, PolicyView, list[str]] | None = None

    def verbs(self) -> list[str]:
        session = self.session.current()  # what the role in force now allows, in a long session too
        return session.view.allowed_verbs(set(session.registry.names()))

    def containers(self) -> list[str]:
        now, session = self._clock(), self.session.current()
        cached = self._containers
        if cached is None or now - cached[0] > CACHE_SECONDS or cached[1] != session.view:
            try:
                rows = visible_containers(session.engine, session.view, include_stopped=True)
                names = sorted(container_name(row) for row in rows)
            except Exception:  # the engine being down must not break typing
                names = []
            self._containers = cached = (now, session.view, names)
        return cached[2]

    def services(self) -> list[str]:
        """The visible Swarm services' names (none off a manager), cached like containers."""
        now, session = self._clock(), self.session.current()
        cached = self._services
        if cached is None or now - cached[0] > CACHE_SECONDS or cached[1] != session.view:
            try:
                names = sorted(service_name(row) for row in visible_services(session.engine, session.view))
            except Exception:  # no swarm here, or the engine is down: typing must not break
                names = []
            self._services = cached = (now, session.view, names)
        return cached[2]

    def bench_targets(self) -> list[str]:
        return sorted(self._targets())

    def models(self, target: str | None) -> list[str]:
        targets = self._targets()
        chosen = [targets[target]] if target is not None and target in targets else list(targets.values())
        models = {str(model) for settings in chosen for model in _list(settings.get("models"))}
        return sorted(models)

    def _targets(self) -> Mapping[str, Mapping[str, object]]:
        raw = self.session.current().view.settings("bench").get("targets")
        if not isinstance(raw, Mapping):
            return {}
        return {str(name): value for name, value in raw.items() if isinstance(value, Mapping)}

    def for_kind(self, kind: ArgKind, choices: tuple[str, ...], words: list[str]) -> list[str]:
        if choices:
            return list(choices)
        if kind in (ArgKind.CONTAINER, ArgKind.SERVICE, ArgKind.WORKLOAD):
            return self.target_names(kind, services_only="--service" in words)
        if kind is ArgKind.VERB:
            return self.verbs()
        if kind is ArgKind.BENCH_TARGET:
            return self.bench_targets()
        if kind is ArgKind.MODEL:
            return self.models(words[1] if len(words) > 1 else None)
        return []

    def target_names(self, kind: ArgKind, *, services_only: bool = False) -> list[str]:
        """The names a CONTAINER, SERVICE or WORKLOAD argument may take; a WORKLOAD lists containers then
        services (a name that is both is listed once: it means the container), or services with --service."""
        if kind is ArgKind.CONTAINER:
            return self.containers()
        if kind is ArgKind.SERVICE or services_only:
            return self.services()
        containers = self.containers()
        return [*containers, *(name for name in self.services() if name not in containers)]


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else []


class SpecCompleter(Completer):
    """Completes verbs, then a verb's flags and argument values by their kind."""

    def __init__(self, candidates: Candidates) -> None:
        self.candidates = candidates

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        try:
            words = shlex.split(text)
        except ValueError:
            return
        if not text or text[-1].isspace():
            words.append("")
        current = words[-1]
        for option in self._options_for(words[:-1], current):
            if option.startswith(current):
                yield Completion(option, start_position=-len(current))

    def _options_for(self, before: list[str], current: str) -> Iterable[str]:
        if not before:
            return self.candidates.verbs()
        verb = self._allowed_verb(before[0])
        if verb is None:
            return []
        previous = verb.spec.option(before[-1]) if len(before) > 1 else None
        if previous is not None and previous.takes_value:
            return self.candidates.for_kind(previous.kind, previous.choices, before)
        if current.startswith("-"):
            used = set(before)
            offered = [o for o in verb.spec.all_options if o.flag not in used or o.repeatable]
            services = sees_services(self.candidates.session.current().view)  # else --service is not offered
            return [o.flag for o in offered if services or o.key != SERVICE_SWITCH]
        positional = _next_positional(verb.spec.positionals, verb.spec.all_options, before[1:])
        if positional is None:
            return []
        return self.candidates.for_kind(positional.kind, positional.choices, before)

    def _allowed_verb(self, name: str) -> Verb | None:
        if name not in self.candidates.verbs():
            return None
        return self.candidates.session.registry.get(name)


def _next_positional(
    positionals: tuple[Positional, ...], options: tuple[Option, ...], words: list[str]
) -> Positional | None:
    """Which positional the next word would bind to, skipping flags and their values (a repeatable
    last positional takes every word after the others)."""
    takes_value = {option.flag for option in options if option.takes_value}
    count, skip = 0, False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in takes_value
        else:
            count += 1
    if count < len(positionals):
        return positionals[count]
    return positionals[-1] if positionals and positionals[-1].repeat else None
