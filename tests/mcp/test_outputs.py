"""Every tool as a client sees it: a title, honest hints, and structured results that match its outputSchema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # the MCP SDK's dependency, without stubs
import pytest

from tests.mcp.raw import RawPeer, local_command, raw_server
from tests.ollama_server import FakeOllama
from tests.support.engine import EngineContainers
from tests.support.policies import role_policy
from tests.support.shell import write_policy

#: (readOnlyHint, destructiveHint, idempotentHint, openWorldHint) per tool
HINTS = {
    "ps": (True, False, True, False),
    "logs": (True, False, True, False),
    "whoami": (True, False, True, False),
    "vram": (True, False, True, True),
    "restart": (False, True, False, False),
    "bench": (False, False, False, True),
}


@pytest.fixture
def every_tool_policy(policy_dir: Path, containers: EngineContainers, ollama: FakeOllama, tmp_path: Path) -> Path:
    policy = role_policy(
        policy_dir, containers, "ps, logs, restart, bench, vram, mcp", role="agent", bench_url=ollama.url
    )
    (tmp_path / "sys").mkdir()
    vram = f"      vram: {{sysfs_root: '{tmp_path}', sources: [amd]}}\n"
    body = "principals:" + policy.read_text().split("principals:", 1)[1]  # write_policy adds its own header
    text = body.replace("      logs: {max_lines: 2000}\n", "      logs: {max_lines: 2000}\n" + vram)
    return write_policy(policy_dir, text)


@pytest.fixture
def peer(every_tool_policy: Path) -> Any:
    with raw_server(local_command(every_tool_policy)) as running:
        running.initialize()
        yield running


def test_every_tool_has_a_title_honest_hints_and_valid_schemas(peer: RawPeer) -> None:
    tools = {tool["name"]: tool for tool in peer.call(1, "tools/list")["result"]["tools"]}
    assert sorted(tools) == sorted(HINTS)
    for name, tool in tools.items():
        hints = tool["annotations"]
        assert tool["title"]
        assert hints["title"] == tool["title"]
        actual = (hints["readOnlyHint"], hints["destructiveHint"], hints["idempotentHint"], hints["openWorldHint"])
        assert actual == HINTS[name], name
        jsonschema.Draft202012Validator.check_schema(tool["inputSchema"])
        jsonschema.Draft202012Validator.check_schema(tool["outputSchema"])
        assert tool["outputSchema"]["type"] == "object"
        assert "--" not in tool["description"] + str(tool["inputSchema"]), name
        assert "[--json]" not in tool["description"]
    assert tools["logs"]["inputSchema"]["properties"]["tail"]["maximum"] == 2000  # the policy's max_lines
    assert tools["logs"]["inputSchema"]["properties"]["seconds"]["maximum"] == 60  # mcp.max_follow's default
    assert tools["restart"]["inputSchema"]["properties"]["timeout"]["maximum"] == 30  # restart.max_timeout
    bench = jsonschema.Draft202012Validator(tools["bench"]["inputSchema"])
    assert not bench.is_valid({"target": "compare"})
    assert bench.is_valid({"target": "compare", "run_a": "a", "run_b": "b"})


def calls(containers: EngineContainers, restartable: str) -> list[tuple[str, dict[str, Any]]]:
    app = containers.name("app")
    return [
        ("ps", {"all": True}),
        ("logs", {"container": containers.name("lines"), "tail": 3}),
        ("logs", {"container": app, "follow": True, "seconds": 1}),
        ("logs", {"container": app, "tail": 5000}),
        ("restart", {"container": restartable, "timeout": 20}),
        ("whoami", {}),
        ("vram", {}),
        ("bench", {"target": "gpu1", "model": ["llama3.2:1b"], "runs": 1, "test": "tg128"}),
        ("bench", {"target": "history"}),
        ("bench", {"target": "compare", "run_a": "nope", "run_b": "nada"}),
    ]


def test_every_tool_result_validates_against_its_output_schema(
    peer: RawPeer, containers: EngineContainers, restartable: str
) -> None:
    tools = {tool["name"]: tool for tool in peer.call(1, "tools/list")["result"]["tools"]}
    outcomes: list[bool] = []
    for request_id, (name, arguments) in enumerate(calls(containers, restartable), start=10):
        result = peer.call(request_id, "tools/call", {"name": name, "arguments": arguments})["result"]
        validator = jsonschema.Draft202012Validator(tools[name]["outputSchema"])
        errors = [error.message for error in validator.iter_errors(result["structuredContent"])]
        assert errors == [], (name, arguments, result)
        outcomes.append(result["isError"])
    assert outcomes == [False, False, False, True, False, False, False, False, False, True]
