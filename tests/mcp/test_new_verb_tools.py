"""inspect, stats, start, stop and the model verbs as MCP tools: honest hints, results that match outputSchema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # the MCP SDK's dependency, without stubs
import pytest

from tests.mcp.raw import RawPeer, local_command, raw_server
from tests.ollama_server import FakeOllama
from tests.support.engine import EngineContainers
from tests.support.policies import role_policy

#: (readOnlyHint, destructiveHint, idempotentHint, openWorldHint) per tool
HINTS = {
    "inspect": (True, False, True, False),
    "stats": (True, False, True, False),
    "start": (False, False, True, False),
    "stop": (False, True, True, False),
    "models": (True, False, True, True),
    "load": (False, False, True, True),
    "unload": (False, True, True, True),
    "pull": (False, False, True, True),
}


@pytest.fixture
def peer(policy_dir: Path, containers: EngineContainers, ollama: FakeOllama) -> Iterator[RawPeer]:
    ollama.pullable["llama3.2:1b"] = [1_000, 2_000]
    policy = role_policy(policy_dir, containers, ", ".join([*HINTS, "mcp"]), role="agent", bench_url=ollama.url)
    with raw_server(local_command(policy)) as running:
        running.initialize()
        yield running


def calls(containers: EngineContainers, restartable: str) -> list[tuple[str, dict[str, Any], bool]]:
    app = containers.name("app")
    return [
        ("inspect", {"container": containers.name("healthy")}, False),
        ("stats", {"container": [app]}, False),
        ("stats", {"container": [app, containers.name("labelled")], "watch": 1, "count": 1}, False),
        ("stats", {"container": app}, True),  # a list, as the schema says
        ("stop", {"container": restartable, "timeout": 1}, False),
        ("start", {"container": restartable, "timeout": 20}, False),
        ("start", {"container": restartable}, False),
        ("models", {"target": "gpu1"}, False),
        ("load", {"target": "gpu1", "model": "llama3.2:1b"}, False),
        ("unload", {"target": "gpu1", "model": "llama3.2:1b"}, False),
        ("pull", {"target": "gpu1", "model": "llama3.2:1b"}, False),
        ("pull", {"target": "gpu1", "model": "other:1b"}, True),
    ]


def test_tools_have_honest_hints_and_results_that_validate(
    peer: RawPeer, containers: EngineContainers, restartable: str
) -> None:
    tools = {tool["name"]: tool for tool in peer.call(1, "tools/list")["result"]["tools"]}
    for name, expected in HINTS.items():
        hints = tools[name]["annotations"]
        actual = (hints["readOnlyHint"], hints["destructiveHint"], hints["idempotentHint"], hints["openWorldHint"])
        assert actual == expected, name
        jsonschema.Draft202012Validator.check_schema(tools[name]["outputSchema"])
        jsonschema.Draft202012Validator.check_schema(tools[name]["inputSchema"])
        assert "--" not in tools[name]["description"] + str(tools[name]["inputSchema"]), name
    for request_id, (name, arguments, is_error) in enumerate(calls(containers, restartable), start=10):
        result = peer.call(request_id, "tools/call", {"name": name, "arguments": arguments})["result"]
        validator = jsonschema.Draft202012Validator(tools[name]["outputSchema"])
        assert [error.message for error in validator.iter_errors(result["structuredContent"])] == [], (name, result)
        assert result["isError"] is is_error, (name, arguments, result)


def test_stats_takes_a_list_of_visible_containers_in_the_order_named(
    peer: RawPeer, containers: EngineContainers
) -> None:
    tools = {tool["name"]: tool for tool in peer.call(1, "tools/list")["result"]["tools"]}
    container = tools["stats"]["inputSchema"]["properties"]["container"]
    assert (container["type"], container["maxItems"], container["uniqueItems"]) == ("array", 64, True)
    assert container["items"]["type"] == "string"
    assert containers.name("hidden") not in container["items"]["enum"]
    assert {containers.name(suffix) for suffix in ("app", "labelled", "stopped")} <= set(container["items"]["enum"])
    assert "container" not in tools["stats"]["inputSchema"].get("required", [])
    validator = jsonschema.Draft202012Validator(tools["stats"]["inputSchema"])
    assert not validator.is_valid({"container": [containers.name("hidden")]})
    assert not validator.is_valid({"container": [containers.name("app")] * 2})

    app, labelled = containers.name("app"), containers.name("labelled")
    result = peer.call(2, "tools/call", {"name": "stats", "arguments": {"container": [labelled, app]}})["result"]
    assert result["isError"] is False, result
    assert [row["name"] for row in result["structuredContent"]["containers"]] == [labelled, app]
    hidden = [app, containers.name("hidden")]
    refused = peer.call(3, "tools/call", {"name": "stats", "arguments": {"container": hidden}})["result"]
    assert refused["isError"] is True
    assert f"no single container {containers.name('hidden')!r} is visible to you" in str(refused["content"])
