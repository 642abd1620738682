"""Read policy.yaml into a Policy: strict schema, errors with line numbers, default deny."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from rshell.auditlog.volume import DEFAULT_MAX_BYTES, DEFAULT_PER_SECONDS, AuditVolume
from rshell.errors import PolicyError
from rshell.policy.filecheck import read_policy_file
from rshell.policy.model import (
    LABEL_SOURCE_CONTAINER,
    LABEL_SOURCES,
    Approval,
    ContainerRule,
    Policy,
    RateLimit,
    Role,
    ServiceRule,
)
from rshell.policy.schema import LABEL_KEY_PATTERN, Field, Kind, Problems, validate

#: a real policy is under ten levels deep; deeper input is refused before anything recursive reads it
MAX_POLICY_DEPTH = 50
#: as MAX_POLICY_BYTES, for text handed to parse_policy directly (rshellctl policy check)
MAX_POLICY_TEXT = 1 << 20
#: verbs a limit cannot apply to, and why (a limit there would be a key that does nothing)
UNLIMITABLE_VERBS = {
    "exit": "it only ends the shell",
    "quit": "it only ends the shell",
    "mcp": "it starts a session rather than running as a call; limit the verbs the session calls",
}
#: the smallest audit volume cap: room for a few records of any size per window
MIN_AUDIT_BYTES = 4096
_LABELS = Field("labels", Kind.MAP, items=Field("value", Kind.STRING, max_length=1024), key_pattern=LABEL_KEY_PATTERN)
_LIMIT = Field(
    "limit",
    Kind.OBJECT,
    fields=(
        Field("count", Kind.INTEGER, required=True, minimum=0, maximum=1_000_000),
        Field("per", Kind.DURATION, required=True),
    ),
)

#: role key ``approval``: which verbs wait for whom, how long a request lives and how long a caller waits
_APPROVAL = Field(
    "approval",
    Kind.OBJECT,
    fields=(
        Field("verbs", Kind.LIST, items=Field("verb", Kind.NAME), required=True),
        Field(
            "approvers",
            Kind.OBJECT,
            required=True,
            fields=(
                Field("users", Kind.LIST, items=Field("user", Kind.NAME), default=[]),
                Field("groups", Kind.LIST, items=Field("group", Kind.NAME), default=[]),
            ),
        ),
        Field("ttl", Kind.DURATION, "how long a request may be approved and run", default=900.0),
        Field("wait", Kind.DURATION, "how long the caller waits for a decision", default=600.0),
        Field("max_pending", Kind.INTEGER, "pending requests per requester", default=8, minimum=1, maximum=1000),
    ),
    default=None,
)


def policy_schema(verb_settings: Mapping[str, tuple[Field, ...]]) -> Field:
    """The whole file's schema; each verb's settings come from the verb itself."""
    settings = tuple(Field(verb, Kind.OBJECT, fields=fields) for verb, fields in sorted(verb_settings.items()))
    role = Field(
        "role",
        Kind.OBJECT,
        fields=(
            Field("verbs", Kind.LIST, items=Field("verb", Kind.NAME), default=[]),
            Field(
                "containers",
                Kind.OBJECT,
                fields=(
                    Field("names", Kind.LIST, items=Field("name", Kind.NAME), default=[]),
                    Field("labels", Kind.LIST, items=_LABELS, default=[]),
                    Field(
                        "label_source",
                        Kind.STRING,
                        help="container: selectors match labels set on the container, not its image's; any: both",
                        default=LABEL_SOURCE_CONTAINER,
                        choices=LABEL_SOURCES,
                    ),
                ),
                default={"names": [], "labels": [], "label_source": LABEL_SOURCE_CONTAINER},
            ),
            Field(
                "services",
                Kind.OBJECT,
                help="the Swarm services this role sees (default none)",
                fields=(
                    Field("names", Kind.LIST, items=Field("name", Kind.NAME), default=[]),
                    Field("labels", Kind.LIST, items=_LABELS, default=[]),
                ),
                default={"names": [], "labels": []},
            ),
            Field("limits", Kind.MAP, items=_LIMIT, default={}),
            Field("settings", Kind.OBJECT, fields=settings, default={}),
            _APPROVAL,
        ),
    )
    return Field(
        "policy",
        Kind.OBJECT,
        fields=(
            Field("version", Kind.INTEGER, required=True, minimum=1, maximum=1),
            Field(
                "engine",
                Kind.OBJECT,
                fields=(
                    Field("url", Kind.URL, default="unix:///var/run/docker.sock"),
                    Field("timeout", Kind.DURATION, default=30.0),
                ),
                default={"url": "unix:///var/run/docker.sock", "timeout": 30.0},
            ),
            Field("audit_log", Kind.PATH, default="/var/log/rshell/audit.jsonl"),
            Field(
                "audit",
                Kind.OBJECT,
                fields=(
                    Field("max_bytes", Kind.SIZE, "audit bytes per user per window", default=DEFAULT_MAX_BYTES),
                    Field("per", Kind.DURATION, "the window", default=DEFAULT_PER_SECONDS),
                ),
                default={"max_bytes": DEFAULT_MAX_BYTES, "per": DEFAULT_PER_SECONDS},
            ),
            Field("state_dir", Kind.PATH, default="/var/lib/rshell"),
            Field(
                "principals",
                Kind.OBJECT,
                fields=(
                    Field("users", Kind.MAP, items=Field("role", Kind.NAME), default={}),
                    Field("groups", Kind.MAP, items=Field("role", Kind.NAME), default={}),
                ),
                default={"users": {}, "groups": {}},
            ),
            Field("roles", Kind.MAP, items=role, default={}),
        ),
    )


def read_policy_text(path: Path) -> str:
    """At most MAX_POLICY_TEXT + 1 bytes of a regular file, as text (longer is then refused in one
    line); a FIFO, device or directory is an OSError, never a wait or an endless read."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        data = file.read(MAX_POLICY_TEXT + 1)
    return data.decode("utf-8", "replace" if len(data) > MAX_POLICY_TEXT else "strict")  # too long: refused anyway


def load_policy(
    path: Path,
    verb_settings: Mapping[str, tuple[Field, ...]],
    *,
    allow_owner_uid: int | None = None,
) -> Policy:
    """Check the file's ownership and mode, then parse and validate it; raise PolicyError."""
    data = read_policy_file(path, allow_owner_uid=allow_owner_uid)  # checked and read through one descriptor
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PolicyError(f"cannot read policy file {path}: {error}") from None
    problems = Problems(str(path))
    policy = parse_policy(text, path, verb_settings, problems)
    if problems.messages or policy is None:
        more = len(problems.messages) - 1
        suffix = f" (and {more} more: run 'rshellctl policy check {path}')" if more > 0 else ""
        first = problems.messages[0] if problems.messages else f"{path}: invalid policy"
        raise PolicyError(f"invalid policy: {first}{suffix}")
    return policy


def parse_policy(
    text: str, path: Path, verb_settings: Mapping[str, tuple[Field, ...]], problems: Problems
) -> Policy | None:
    """Validate policy text, recording every problem; None when it could not be read at all."""
    root = _compose(text, problems)
    if root is None:
        return None
    raw = validate(root, policy_schema(verb_settings), "policy", problems)
    if not isinstance(raw, dict):
        return None
    _cross_check(raw, root, set(verb_settings), problems)
    if problems.messages:
        return None
    return _build(raw, path)


def _compose(text: str, problems: Problems) -> yaml.Node | None:
    if len(text) > MAX_POLICY_TEXT:  # policy check reads the text itself; the loader's file cap is the same
        problems.messages.append(f"{problems.source}: the policy is larger than {MAX_POLICY_TEXT} characters")
        return None
    try:
        if not _flat_enough(text, problems):
            return None
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError) as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problems.messages.append(f"{problems.source}{line}: not valid YAML: {getattr(error, 'problem', error)}")
        return None
    if node is None:
        problems.messages.append(f"{problems.source}: the policy is empty")
    return node


def _flat_enough(text: str, problems: Problems) -> bool:
    """One pass over the events, before anything recursive runs: no anchors or aliases (so a small
    file cannot expand into a huge structure), and no nesting deeper than MAX_POLICY_DEPTH."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        where = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            problems.messages.append(f"{problems.source}:{where}: anchors and aliases are not allowed")
            return False
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_POLICY_DEPTH:
                problems.messages.append(f"{problems.source}:{where}: nested deeper than {MAX_POLICY_DEPTH} levels")
                return False
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return True


def _cross_check(raw: dict[str, Any], root: yaml.Node, verbs: set[str], problems: Problems) -> None:
    roles = raw.get("roles") or {}
    principals = raw.get("principals") or {}
    for kind in ("users", "groups"):
        for principal, role in (principals.get(kind) or {}).items():
            if role is not None and role not in roles:
                where = _node_at(root, "principals", kind, principal)
                problems.add(where, f"principals.{kind}.{principal} names role {role!r}, which is not defined")
    for role_name, role in roles.items():
        if not isinstance(role, dict):
            continue
        for index, verb in enumerate(role.get("verbs") or []):
            if verb is not None and verb not in verbs:
                where = _node_at(root, "roles", role_name, "verbs", index)
                problems.add(where, f"roles.{role_name}.verbs names {verb!r}, which is not a registered verb")
        _check_selectors(role_name, role, root, problems)
        for verb in role.get("limits") or {}:
            where = _node_at(root, "roles", role_name, "limits", verb)
            if verb not in verbs:
                problems.add(where, f"roles.{role_name}.limits names {verb!r}, which is not a registered verb")
            elif verb in UNLIMITABLE_VERBS:
                why = UNLIMITABLE_VERBS[verb]
                problems.add(where, f"roles.{role_name}.limits.{verb}: {verb!r} cannot be limited ({why})")
        _check_approval(role_name, role, root, problems)
    _check_audit_volume(raw, root, problems)


def _check_approval(role_name: str, role: dict[str, Any], root: yaml.Node, problems: Problems) -> None:
    """Each approval verb is a state-changing verb the role has; someone can approve; ttl and wait >= 1s."""
    approval = role.get("approval")
    if not isinstance(approval, dict):
        return
    path = f"roles.{role_name}.approval"
    for index, verb in enumerate(approval.get("verbs") or []):
        where = _node_at(root, "roles", role_name, "approval", "verbs", index)
        if verb is not None and verb not in (role.get("verbs") or []):
            problems.add(where, f"{path}.verbs names {verb!r}, which roles.{role_name}.verbs does not grant")
        elif verb is not None and not _changes_state(verb):
            problems.add(where, f"{path}.verbs names {verb!r}, which changes nothing (only state-changing verbs wait)")
    approvers = approval.get("approvers") or {}
    if not (approvers.get("users") or approvers.get("groups")):
        problems.add(_node_at(root, "roles", role_name, "approval"), f"{path}.approvers names no user or group")
    for key in ("ttl", "wait"):
        if isinstance(approval.get(key), float) and approval[key] < 1.0:
            problems.add(_node_at(root, "roles", role_name, "approval", key), f"{path}.{key} must be at least 1s")


def _changes_state(verb: str) -> bool:
    """Whether the registered verb is a state-changing one (loaded only for a role with ``approval``)."""
    from rshell.registry import Registry  # noqa: PLC0415 - the registry imports the policy schema

    loaded = Registry.discover().get(verb)
    return loaded is not None and loaded.changes_state


def _check_selectors(role_name: str, role: dict[str, Any], root: yaml.Node, problems: Problems) -> None:
    """An empty label selector would match every container (or service): refused."""
    for section in ("containers", "services"):
        for index, selector in enumerate((role.get(section) or {}).get("labels") or []):
            if selector == {}:
                where = _node_at(root, "roles", role_name, section, "labels", index)
                problems.add(where, f"roles.{role_name}.{section}.labels[{index}] is empty and would match everything")


def _check_audit_volume(raw: dict[str, Any], root: yaml.Node, problems: Problems) -> None:
    volume = raw.get("audit") or {}
    if isinstance(volume.get("max_bytes"), int) and volume["max_bytes"] < MIN_AUDIT_BYTES:
        problems.add(_node_at(root, "audit", "max_bytes"), f"audit.max_bytes must be at least {MIN_AUDIT_BYTES}B")
    if isinstance(volume.get("per"), float) and volume["per"] < 1.0:
        problems.add(_node_at(root, "audit", "per"), "audit.per must be at least 1s")


def _node_at(root: yaml.Node, *steps: str | int) -> yaml.Node:
    """The node at a path of keys and list indexes (or the deepest one found), for its line."""
    node = root
    for step in steps:
        if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        elif isinstance(node, yaml.MappingNode):
            found = [value for key, value in node.value if getattr(key, "value", None) == step]
            if not found:
                return node
            node = found[0]
        else:
            return node
    return node


def _build(raw: dict[str, Any], path: Path) -> Policy:
    roles = {name: _build_role(name, role) for name, role in raw["roles"].items()}
    return Policy(
        path=path,
        engine_url=raw["engine"]["url"],
        engine_timeout=raw["engine"]["timeout"],
        audit_log=Path(raw["audit_log"]),
        audit_volume=AuditVolume(raw["audit"]["max_bytes"], raw["audit"]["per"]),
        state_dir=Path(raw["state_dir"]),
        users=dict(raw["principals"]["users"]),
        groups=dict(raw["principals"]["groups"]),
        roles=roles,
    )


def _build_role(name: str, raw: dict[str, Any]) -> Role:
    containers = raw["containers"]
    return Role(
        name=name,
        verbs=frozenset(raw["verbs"]),
        containers=ContainerRule(
            names=frozenset(containers["names"]),
            label_selectors=tuple(dict(selector) for selector in containers["labels"]),
            label_source=containers["label_source"],
        ),
        limits={verb: RateLimit(limit["count"], limit["per"]) for verb, limit in raw["limits"].items()},
        settings={verb: dict(values) for verb, values in (raw["settings"] or {}).items() if values is not None},
        approval=_build_approval(raw.get("approval")),
        services=ServiceRule(
            names=frozenset(raw["services"]["names"]),
            label_selectors=tuple(dict(selector) for selector in raw["services"]["labels"]),
        ),
    )


def _build_approval(raw: dict[str, Any] | None) -> Approval | None:
    if raw is None:
        return None
    approvers = raw["approvers"]
    return Approval(
        verbs=frozenset(raw["verbs"]),
        approver_users=frozenset(approvers["users"]),
        approver_groups=frozenset(approvers["groups"]),
        ttl=raw["ttl"],
        wait=raw["wait"],
        max_pending=raw["max_pending"],
    )
