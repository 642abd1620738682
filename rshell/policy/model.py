"""The validated policy: frozen, so nothing downstream can widen it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rshell.auditlog.volume import AuditVolume

#: verbs every principal with a role may use: they show only the principal's own view
ALWAYS_ALLOWED = frozenset({"help", "whoami", "exit", "quit"})
#: the only verbs of a principal without a role (whoami would show the engine and ask it for containers)
ROLELESS_ALLOWED = frozenset({"help", "exit", "quit"})
#: verbs every principal whose role has an ``approval`` rule may use: they show only the caller's own requests
APPROVAL_ALLOWED = frozenset({"requests"})


#: ``containers.label_source``: selectors match only labels set on the container itself (the default)
LABEL_SOURCE_CONTAINER = "container"
#: ``containers.label_source``: selectors match every label, including those inherited from the image
LABEL_SOURCE_ANY = "any"
LABEL_SOURCES = (LABEL_SOURCE_CONTAINER, LABEL_SOURCE_ANY)


@dataclass(frozen=True)
class ContainerRule:
    """Which containers a role sees: exact names, or label selectors whose pairs all match.

    A container's labels are its image's labels merged with those given at ``docker run``; with
    ``label_source: container`` a selector sees only the latter, so whoever builds an image cannot
    decide which containers a role sees.
    """

    names: frozenset[str] = frozenset()
    label_selectors: tuple[Mapping[str, str], ...] = ()
    label_source: str = LABEL_SOURCE_CONTAINER

    @property
    def needs_image_labels(self) -> bool:
        """Whether deciding needs the image's labels (to tell them from the container's own)."""
        return bool(self.label_selectors) and self.label_source == LABEL_SOURCE_CONTAINER

    def selector_labels(self, labels: Mapping[str, str], image_labels: Mapping[str, str] | None) -> Mapping[str, str]:
        """The labels selectors are matched against; ``image_labels`` None means unknown, so none count."""
        if self.label_source == LABEL_SOURCE_ANY:
            return labels
        if image_labels is None:
            return {}
        return {key: value for key, value in labels.items() if image_labels.get(key) != value}

    def match(self, name: str, labels: Mapping[str, str]) -> str | None:
        """The rule that admits this container (``labels`` as selector_labels gives them), or None."""
        if name in self.names:
            return f"containers.names contains {name!r}"
        return self.selector_match(labels)

    def selector_match(self, labels: Mapping[str, str]) -> str | None:
        """The first label selector whose pairs all appear in ``labels``, or None."""
        for selector in self.label_selectors:
            if all(labels.get(key) == value for key, value in selector.items()):
                shown = ", ".join(f"{key}={value}" for key, value in selector.items())
                return f"containers.labels selector {{{shown}}}"
        return None


@dataclass(frozen=True)
class ServiceRule:
    """Which Swarm services a role sees: exact names, or label selectors whose pairs all match the
    service's own labels (its spec's ``Labels``; an image adds none to a service, so no label_source)."""

    names: frozenset[str] = frozenset()
    label_selectors: tuple[Mapping[str, str], ...] = ()

    def match(self, name: str, labels: Mapping[str, str]) -> str | None:
        """The rule that admits this service, or None (default deny)."""
        if name in self.names:
            return f"services.names contains {name!r}"
        for selector in self.label_selectors:
            if all(labels.get(key) == value for key, value in selector.items()):
                shown = ", ".join(f"{key}={value}" for key, value in selector.items())
                return f"services.labels selector {{{shown}}}"
        return None


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` actions per ``per_seconds`` for each target."""

    count: int
    per_seconds: float


@dataclass(frozen=True)
class Approval:
    """Role key ``approval``: these verbs run only once an approver (a user named here, or a member of a
    group named here, never the requester) approves the exact action; a request lives ``ttl`` seconds
    and the caller waits up to ``wait`` for a decision."""

    verbs: frozenset[str]
    approver_users: frozenset[str] = frozenset()
    approver_groups: frozenset[str] = frozenset()
    ttl: float = 900.0
    wait: float = 600.0
    #: the most pending requests one requester (uid) may have at once; a new one past it is denied (126)
    max_pending: int = 8

    def may_approve(self, user: str, groups: frozenset[str]) -> bool:
        return user in self.approver_users or bool(groups & self.approver_groups)


@dataclass(frozen=True)
class Role:
    name: str
    verbs: frozenset[str]
    containers: ContainerRule
    limits: Mapping[str, RateLimit] = field(default_factory=dict)
    settings: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    #: role key ``approval``; None: no verb of this role waits for an approver
    approval: Approval | None = None
    #: the Swarm services it sees (none unless the policy lists some)
    services: ServiceRule = field(default_factory=ServiceRule)


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
    #: the audit log's volume cap (policy key ``audit: {max_bytes, per}``)
    audit_volume: AuditVolume = field(default_factory=AuditVolume)
