"""The validated policy: frozen, so nothing downstream can widen it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: verbs every principal with a role may use: they show only the principal's own view
ALWAYS_ALLOWED = frozenset({"help", "whoami", "exit", "quit"})


@dataclass(frozen=True)
class ContainerRule:
    """Which containers a role sees: exact names, or label selectors whose pairs all match."""

    names: frozenset[str] = frozenset()
    label_selectors: tuple[Mapping[str, str], ...] = ()

    def match(self, name: str, labels: Mapping[str, str]) -> str | None:
        """The rule that admits this container, or None."""
        if name in self.names:
            return f"containers.names contains {name!r}"
        for selector in self.label_selectors:
            if all(labels.get(key) == value for key, value in selector.items()):
                shown = ", ".join(f"{key}={value}" for key, value in selector.items())
                return f"containers.labels selector {{{shown}}}"
        return None


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` actions per ``per_seconds`` for each target."""

    count: int
    per_seconds: float


@dataclass(frozen=True)
class Role:
    name: str
    verbs: frozenset[str]
    containers: ContainerRule
    limits: Mapping[str, RateLimit] = field(default_factory=dict)
    settings: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    path: Path
    engine_url: str
    engine_timeout: float
    audit_log: Path
    state_dir: Path
    users: Mapping[str, str]
    groups: Mapping[str, str]
    roles: Mapping[str, Role]
