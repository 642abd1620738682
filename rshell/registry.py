"""Verbs come from the ``rshell.verbs`` entry-point group: built-ins register the way plugins do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from rshell.policy.schema import Field
from rshell.verb import Verb

GROUP = "rshell.verbs"


class Registry:
    """Verb names known from metadata; each verb module is imported only when it is needed."""

    def __init__(self, points: Iterable[EntryPoint]) -> None:
        self._points = {point.name: point for point in points}
        self._loaded: dict[str, Verb] = {}
        self.warnings: list[str] = []

    @classmethod
    def discover(cls) -> Registry:
        return cls(entry_points(group=GROUP))

    @classmethod
    def of(cls, verbs: Iterable[Verb]) -> Registry:
        """A registry of ready verb objects (tests and embedders)."""
        registry = cls(())
        for verb in verbs:
            registry._loaded[verb.name] = verb
        return registry

    def names(self) -> list[str]:
        return sorted(set(self._points) | set(self._loaded))

    def get(self, name: str) -> Verb | None:
        if name not in self._loaded and name in self._points:
            verb = self._load(self._points.pop(name))
            if verb is not None:
                self._loaded[name] = verb
        return self._loaded.get(name)

    def all(self) -> dict[str, Verb]:
        for name in list(self._points):
            self.get(name)
        return dict(sorted(self._loaded.items()))

    def settings_schemas(self) -> dict[str, tuple[Field, ...]]:
        return {name: verb.settings for name, verb in self.all().items()}

    def suggest(self, name: str) -> str | None:
        matches = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.6)
        return matches[0] if matches else None

    def _load(self, point: EntryPoint) -> Verb | None:
        try:
            loaded = point.load()
            verb = loaded() if isinstance(loaded, type) else loaded
        except Exception as error:  # a broken plugin is a warning, never a crash of the shell
            self.warnings.append(f"verb {point.name!r} failed to load: {type(error).__name__}: {error}")
            return None
        if not isinstance(verb, Verb) or verb.name != point.name:
            self.warnings.append(f"verb {point.name!r} from {point.value} is not a Verb named {point.name!r}")
            return None
        return verb
