"""A verb's MCP tool, derived from its spec: input JSON schema, description and hints.

Kinds become enums where the values are known for this principal (visible containers, bench
targets, allowed models, choices), so an agent sees what it may name and nothing else. The
schema is a guide, not the check: every call is bound and decided by the core as typed.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types

from rshell.bench.policy import SUBCOMMANDS
from rshell.completion import Candidates
from rshell.spec import ArgKind, Option, Positional
from rshell.verb import Verb

#: what ``parse_duration`` accepts
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"


def tool_for(verb: Verb, candidates: Candidates) -> types.Tool:
    """The tool an agent sees for one verb."""
    return types.Tool(
        name=verb.name,
        description=tool_description(verb),
        input_schema=input_schema(verb, candidates),
        annotations=types.ToolAnnotations(read_only_hint=not verb.changes_state, open_world_hint=False),
    )


def tool_description(verb: Verb) -> str:
    lines = [verb.summary]
    if verb.description:
        lines += ["", verb.description]
    if verb.changes_state:
        lines += ["", "This tool changes state: it is audited before it acts and may be rate-limited."]
    return "\n".join(lines)


def input_schema(verb: Verb, candidates: Candidates) -> dict[str, Any]:
    """Positionals and options (not ``--json`` or ``--help``) as one JSON object schema."""
    properties: dict[str, Any] = {}
    for positional in verb.spec.positionals:
        properties[positional.key] = _property(positional, candidates)
    for option in verb.spec.options:
        if option.key in properties:
            raise ValueError(f"verb {verb.name!r}: option {option.flag} clashes with a positional")
        properties[option.key] = _property(option, candidates)
    required = [p.key for p in verb.spec.positionals if not p.optional]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    return {**schema, "required": required} if required else schema


def _property(param: Positional | Option, candidates: Candidates) -> dict[str, Any]:
    if isinstance(param, Option) and param.kind is ArgKind.SWITCH:
        return {"type": "boolean", "default": False, "description": param.help}
    value = _value_schema(param, candidates)
    if isinstance(param, Option) and param.repeatable:
        return {"type": "array", "items": value, "description": param.help}
    if isinstance(param, Option) and param.default is not None:
        value["default"] = param.default
    return {**value, "description": param.help}


def _value_schema(param: Positional | Option, candidates: Candidates) -> dict[str, Any]:
    if param.kind is ArgKind.INTEGER:
        return _integer_schema(param)
    if param.kind is ArgKind.DURATION:
        return {"type": "string", "pattern": DURATION_PATTERN}
    known = _known_values(param, candidates)
    if known:
        return {"type": "string", "enum": known}
    return {"type": "string", "minLength": 1, "maxLength": param.max_length}


def _integer_schema(param: Positional | Option) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": 0}
    if isinstance(param, Option):
        if param.minimum is not None:
            schema["minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
    return schema


def _known_values(param: Positional | Option, candidates: Candidates) -> list[str]:
    """The values an enum may list; empty when they are not known (free text)."""
    if param.choices:
        return list(param.choices)
    if param.kind is ArgKind.CONTAINER:
        return candidates.containers()
    if param.kind is ArgKind.BENCH_TARGET:
        return [*candidates.bench_targets(), *SUBCOMMANDS]
    if param.kind is ArgKind.MODEL:
        return candidates.models(None)
    if param.kind is ArgKind.VERB:
        return candidates.verbs()
    return []
