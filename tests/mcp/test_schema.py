"""Input schemas derived from the verb specs, for one principal's policy view (in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # the MCP SDK's dependency, without stubs
import pytest

from rshell.completion import Candidates
from rshell.mcp.limits import McpLimits
from rshell.mcp.schema import TEXT_ROOM, input_schema
from rshell.mcp.tools import Tools
from rshell.session import local_session
from tests.mcp.client import enums
from tests.support.engine import EngineContainers


@pytest.fixture
def schemas(mcp_policy: Path) -> dict[str, dict[str, Any]]:
    tools = Tools(local_session(mcp_policy, "mcp"), McpLimits())
    return {tool.name: tool.input_schema for tool in tools.listing()}


def test_every_schema_is_valid_json_schema_without_json_or_help(schemas: dict[str, dict[str, Any]]) -> None:
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["additionalProperties"] is False
        assert not {"json", "help"} & set(schema["properties"])


def test_container_enums_list_the_visible_containers_only(
    schemas: dict[str, dict[str, Any]], containers: EngineContainers
) -> None:
    for verb in ("logs", "restart"):
        container = schemas[verb]["properties"]["container"]
        assert containers.name("hidden") not in container["enum"]
        assert {containers.name(s) for s in ("app", "labelled", "stopped", "lines")} <= set(container["enum"])
        assert schemas[verb]["required"] == ["container"]


def test_bench_targets_models_choices_and_integers(schemas: dict[str, dict[str, Any]]) -> None:
    bench = schemas["bench"]["properties"]
    assert bench["target"]["enum"] == ["gpu1", "history", "compare"]
    assert bench["model"] == {
        "type": "array",
        "items": {"type": "string", "enum": ["llama3.2:1b"]},
        "description": "model to benchmark (repeatable)",
    }
    assert bench["test"]["enum"] == ["pp512", "tg128", "all"]
    assert bench["test"]["default"] == "all"
    assert (bench["runs"]["type"], bench["runs"]["minimum"], bench["runs"]["maximum"]) == ("integer", 1, 100)
    assert bench["prompt"]["maxLength"] == TEXT_ROOM  # the whole call must fit in one 4096-byte line
    assert schemas["bench"]["required"] == ["target"]


def test_switches_are_booleans_and_durations_have_a_pattern(schemas: dict[str, dict[str, Any]]) -> None:
    logs = schemas["logs"]["properties"]
    assert logs["follow"]["type"] == "boolean"
    assert logs["follow"]["default"] is False
    validator = jsonschema.Draft202012Validator(schemas["logs"])
    assert validator.is_valid({"container": logs["container"]["enum"][0], "since": "1h30m", "tail": 10})
    assert not validator.is_valid({"container": logs["container"]["enum"][0], "since": "90"})
    assert schemas["ps"] == {
        "type": "object",
        "properties": {"all": {"type": "boolean", "default": False, "description": "include stopped containers"}},
        "additionalProperties": False,
    }


def test_no_visible_containers_means_no_name_is_valid_not_free_text(mcp_policy: Path) -> None:
    session = local_session(mcp_policy, "mcp")
    candidates = Candidates(session)
    candidates.containers = lambda: []  # type: ignore[method-assign]
    logs = session.registry.get("logs")
    assert logs is not None
    container = input_schema(logs, candidates)["properties"]["container"]
    assert enums(container) == []
    assert not jsonschema.Draft202012Validator(container).is_valid("anything")
    assert "no container is visible to you now" in container["description"]


def test_with_no_visible_container_a_list_of_containers_admits_only_the_empty_list(mcp_policy: Path) -> None:
    session = local_session(mcp_policy, "mcp")
    candidates = Candidates(session)
    candidates.containers = lambda: []  # type: ignore[method-assign]
    stats = session.registry.get("stats")
    assert stats is not None
    container = input_schema(stats, candidates)["properties"]["container"]
    assert (container["type"], container["maxItems"]) == ("array", 64)
    validator = jsonschema.Draft202012Validator(container)
    assert validator.is_valid([])
    assert not validator.is_valid(["anything"])
    assert "no container is visible to you now" in container["description"]
