"""A verb's MCP tool, derived from its spec: title, input and output schemas, description and hints.

Kinds become enums where the values are known for this principal (visible containers, bench
targets, allowed models, choices), so an agent sees what it may name and nothing else; with no
visible container the container argument admits nothing (and the list changes when one appears).
Bounds come from the policy in force (``tail`` from ``logs.max_lines``, ``timeout`` from
``restart.max_timeout``, follow ``seconds`` from ``mcp.max_follow``). The schema is a guide, not
the check: every call is bound and decided by the core as typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mcp_types as types

from rshell.approvals.gate import MAX_REASON_CHARS, approval_rule
from rshell.bench.policy import SUBCOMMANDS
from rshell.completion import Candidates
from rshell.lexer import MAX_LINE_BYTES
from rshell.mcp.arguments import REASON_KEY
from rshell.mcp.follow import follow_property, is_follow_verb
from rshell.mcp.hints import hints_for, tool_annotations
from rshell.mcp.limits import McpLimits
from rshell.mcp.outputs import output_schema
from rshell.mcp.wording import in_mcp_words
from rshell.spec import ArgKind, Option, Positional
from rshell.swarm.targets import SERVICE_SWITCH, sees_services
from rshell.verb import Verb

#: what ``parse_duration`` accepts
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"
#: the most characters one text argument may have: the whole call must fit in one 4096-byte line
TEXT_ROOM = MAX_LINE_BYTES - 256
#: integer options whose maximum is a policy setting of the same verb: (verb, option) -> setting
POLICY_MAXIMA = {("logs", "tail"): "max_lines", ("restart", "timeout"): "max_timeout"}
CONTAINER_HELP = "the container's name: one of the enum values (the containers visible to you)"
NO_CONTAINER = "no container is visible to you now; the tool list changes when one is"
NO_TARGET = "nothing of this kind is visible to you now; the tool list changes when something is"
#: the kinds whose values are the caller's visible containers and/or Swarm services
TARGET_HELP = {
    ArgKind.CONTAINER: CONTAINER_HELP,
    ArgKind.SERVICE: "the Swarm service's name: one of the enum values (the services visible to you)",
    ArgKind.WORKLOAD: "a container's or Swarm service's name: one of the enum values (a name that is both means "
    "the container unless service is true)",
}


#: the argument of a tool under approval (``REASON_KEY``, which becomes ``--reason TEXT``): why the caller asks
REASON_PROPERTY = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_REASON_CHARS,
    "description": "why you ask: the approver reads it before deciding (this call waits for an approver)",
}


def tool_for(verb: Verb, candidates: Candidates, limits: McpLimits | None = None) -> types.Tool:
    """The tool an agent sees for one verb."""
    return types.Tool(
        name=verb.name,
        title=hints_for(verb).title,
        description=tool_description(verb, candidates),
        input_schema=input_schema(verb, candidates, limits or McpLimits()),
        output_schema=output_schema(verb.name),
        annotations=tool_annotations(verb),
    )


def tool_description(verb: Verb, candidates: Candidates | None = None) -> str:
    lines = [verb.summary]
    if verb.description:
        lines += ["", verb.description]
    if verb.changes_state:
        lines += ["", "This tool changes state: it is audited before it acts."]
    if candidates is not None and needs_approval(verb, candidates):
        lines += ["", "It runs only once an approver approves this exact call: the call waits for the decision."]
    if any(param.kind in (ArgKind.CONTAINER, ArgKind.WORKLOAD) for param in verb.spec.positionals):
        lines += ["", "Name a container by one of the names its enum lists (the containers visible to you)."]
    if verb.name == "bench":
        lines += ["", "target 'compare' needs run_a and run_b (run ids from target 'history')."]
    return in_mcp_words(verb, "\n".join(lines))


def input_schema(verb: Verb, candidates: Candidates, limits: McpLimits | None = None) -> dict[str, Any]:
    """Positionals and options (not ``--json`` or ``--help``) as one JSON object schema."""
    maxima = _policy_maxima(verb, candidates)
    properties: dict[str, Any] = {}
    positionals, options = _offered(verb, candidates)
    for positional in positionals:
        properties[positional.key] = _property(verb, positional, candidates, maxima)
    for option in options:
        if option.key in properties:
            raise ValueError(f"verb {verb.name!r}: option {option.flag} clashes with a positional")
        properties[option.key] = _property(verb, option, candidates, maxima)
    if is_follow_verb(verb):
        properties.update(follow_property(limits or McpLimits()))
    if needs_approval(verb, candidates):
        properties[REASON_KEY] = REASON_PROPERTY
    required = [p.key for p in verb.spec.positionals if not p.optional]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    if verb.name == "bench":
        compare = {"properties": {"target": {"const": "compare"}}, "required": ["target"]}
        schema["allOf"] = [{"if": compare, "then": {"required": ["run_a", "run_b"]}}]
    return schema


def needs_approval(verb: Verb, candidates: Candidates) -> bool:
    """Whether the caller's role puts this verb under approval (its tool then takes ``reason``)."""
    return approval_rule(candidates.session.current().view, verb.name) is not None


def _offered(verb: Verb, candidates: Candidates) -> tuple[list[Positional], list[Option]]:
    """The verb's parameters, less the Swarm ones for a role that sees no service (it is not told of them)."""
    services = sees_services(candidates.session.current().view)
    positionals = [p for p in verb.spec.positionals if services or p.kind is not ArgKind.SERVICE]
    options = [o for o in verb.spec.options if services or o.key != SERVICE_SWITCH]
    return positionals, options


def _shown_kind(kind: ArgKind, candidates: Candidates) -> ArgKind:
    """A container-or-service argument is described as a container's to a role that sees no service."""
    if kind is ArgKind.WORKLOAD and not sees_services(candidates.session.current().view):
        return ArgKind.CONTAINER
    return kind


def _policy_maxima(verb: Verb, candidates: Candidates) -> Mapping[str, int]:
    session = candidates.session.current()
    settings = {spec.name: spec.default for spec in verb.settings} | dict(session.view.settings(verb.name))
    found: dict[str, int] = {}
    for (name, key), setting in POLICY_MAXIMA.items():
        value = settings.get(setting)
        if name == verb.name and isinstance(value, int | float) and not isinstance(value, bool):
            found[key] = int(value)
    return found


def _property(
    verb: Verb, param: Positional | Option, candidates: Candidates, maxima: Mapping[str, int]
) -> dict[str, Any]:
    kind = _shown_kind(param.kind, candidates)
    description = TARGET_HELP.get(kind) or in_mcp_words(verb, param.help)
    if isinstance(param, Option) and param.kind is ArgKind.SWITCH:
        return {"type": "boolean", "default": False, "description": description}
    value = _value_schema(param, candidates, maxima)
    if isinstance(param, Option) and param.repeatable:
        return {"type": "array", "items": value, "description": description}
    if isinstance(param, Option) and param.default is not None:
        value["default"] = param.default
    repeated = param if isinstance(param, Positional) and param.repeat else None
    if repeated is not None:
        description = f"{description}; a list of up to {repeated.max_count}, each named once"
    if value.get("not") == {}:
        description = f"{description} ({NO_CONTAINER if kind is ArgKind.CONTAINER else NO_TARGET})"
    if repeated is not None:
        return {**_array_schema(repeated, value), "description": description}
    return {**value, "description": description}


def _array_schema(param: Positional, items: dict[str, Any]) -> dict[str, Any]:
    """A repeatable positional: a list of the values one would take, each once, at most ``max_count``."""
    schema: dict[str, Any] = {"type": "array", "items": items, "uniqueItems": True, "maxItems": param.max_count}
    if not param.optional:
        schema["minItems"] = 1
    return schema


def _value_schema(param: Positional | Option, candidates: Candidates, maxima: Mapping[str, int]) -> dict[str, Any]:
    if param.kind is ArgKind.INTEGER:
        return _integer_schema(param, maxima.get(param.key))
    if param.kind is ArgKind.DURATION:
        return {"type": "string", "pattern": DURATION_PATTERN}
    known = _known_values(param, candidates)
    if known:
        return {"type": "string", "enum": known}
    if param.kind in TARGET_HELP:
        return {"type": "string", "not": {}}  # nothing is visible: no name can be valid
    return {"type": "string", "minLength": 1, "maxLength": min(param.max_length, TEXT_ROOM)}


def _integer_schema(param: Positional | Option, policy_maximum: int | None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": 0}
    if isinstance(param, Option):
        if param.minimum is not None:
            schema["minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
    if policy_maximum is not None:
        schema["maximum"] = min(schema.get("maximum", policy_maximum), policy_maximum)
    return schema


def _known_values(param: Positional | Option, candidates: Candidates) -> list[str]:
    """The values an enum may list; empty when they are not known (free text)."""
    if param.choices:
        return list(param.choices)
    if param.kind in TARGET_HELP:
        return candidates.target_names(param.kind)
    if param.kind is ArgKind.BENCH_TARGET:
        return [*candidates.bench_targets(), *SUBCOMMANDS]
    if param.kind is ArgKind.MODEL:
        return candidates.models(None)
    if param.kind is ArgKind.VERB:
        return candidates.verbs()
    return []
