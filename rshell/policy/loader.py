"""Read policy.yaml into a Policy: strict schema, errors with line numbers, default deny."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from rshell.errors import PolicyError
from rshell.policy.filecheck import check_policy_file
from rshell.policy.model import ContainerRule, Policy, RateLimit, Role
from rshell.policy.schema import LABEL_KEY_PATTERN, Field, Kind, Problems, validate

_LABELS = Field("labels", Kind.MAP, items=Field("value", Kind.STRING, max_length=1024), key_pattern=LABEL_KEY_PATTERN)
_LIMIT = Field(
    "limit",
    Kind.OBJECT,
    fields=(
        Field("count", Kind.INTEGER, required=True, minimum=0, maximum=1_000_000),
        Field("per", Kind.DURATION, required=True),
    ),
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
                ),
                default={"names": [], "labels": []},
            ),
            Field("limits", Kind.MAP, items=_LIMIT, default={}),
            Field("settings", Kind.OBJECT, fields=settings, default={}),
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


def load_policy(
    path: Path,
    verb_settings: Mapping[str, tuple[Field, ...]],
    *,
    allow_owner_uid: int | None = None,
) -> Policy:
    """Check the file's ownership and mode, then parse and validate it; raise PolicyError."""
    check_policy_file(path, allow_owner_uid=allow_owner_uid)
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
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
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                where = event.start_mark.line + 1 if event.start_mark else 0
                problems.messages.append(f"{problems.source}:{where}: anchors and aliases are not allowed")
                return None
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problems.messages.append(f"{problems.source}{line}: not valid YAML: {getattr(error, 'problem', error)}")
        return None
    if node is None:
        problems.messages.append(f"{problems.source}: the policy is empty")
    return node


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
        containers = role.get("containers") or {}
        for index, selector in enumerate(containers.get("labels") or []):
            if selector == {}:
                where = _node_at(root, "roles", role_name, "containers", "labels", index)
                problems.add(where, f"roles.{role_name}.containers.labels[{index}] is empty and would match everything")
        for verb in role.get("limits") or {}:
            if verb not in verbs:
                where = _node_at(root, "roles", role_name, "limits", verb)
                problems.add(where, f"roles.{role_name}.limits names {verb!r}, which is not a registered verb")


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
        ),
        limits={verb: RateLimit(limit["count"], limit["per"]) for verb, limit in raw["limits"].items()},
        settings={verb: dict(values) for verb, values in (raw["settings"] or {}).items() if values is not None},
    )
