"""rshell's MCP server driven by clients nobody here wrote: the official TypeScript SDK and Inspector CLI.

Versions are pinned in tests/mcp/node/package-lock.json (SDK 1.32.2, Inspector 2.12.0); the test
skips only when node itself is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # the MCP SDK's dependency, without stubs
import pytest

from tests.mcp.nodeclients import NODE_DIR, NodeMissing, ensure_clients, inspector_cli, protocol_errors, versions
from tests.mcp.raw import local_command
from tests.support.engine import EngineContainers
from tests.support.shell import audit_records


@pytest.fixture(scope="session")
def clients() -> Path:
    try:
        found = ensure_clients()
    except NodeMissing as missing:
        pytest.skip(str(missing))
    shutil.copyfile(NODE_DIR / "client.mjs", found / "client.mjs")  # imports resolve next to node_modules
    return found


def typescript_client(clients: Path, scenario: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        ["node", str(clients / "client.mjs"), json.dumps(scenario)], capture_output=True, timeout=180, check=False
    )
    assert completed.returncode == 0, completed.stderr.decode()
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


def inspector(clients: Path, server: Sequence[str], *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [*inspector_cli(clients), *server, *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd="/")


def test_the_pinned_client_versions(clients: Path) -> None:
    assert versions(clients) == {"@modelcontextprotocol/sdk": "1.32.2", "@modelcontextprotocol/inspector": "2.12.0"}


def test_the_typescript_sdk_lists_calls_every_tool_and_cancels_a_follow(
    clients: Path, mcp_policy: Path, policy_dir: Path, containers: EngineContainers, restartable: str
) -> None:
    app = containers.name("app")
    calls = [
        ["ps", {"all": True}],
        ["logs", {"container": containers.name("lines"), "tail": 2}],
        ["logs", {"container": app, "follow": True, "seconds": 1}],
        ["restart", {"container": restartable, "timeout": 20}],
        ["whoami", {}],
        ["bench", {"target": "history"}],
        ["logs", {"container": app, "tail": "ten"}],  # invalid arguments: a tool error
        ["rm", {}],  # unknown tool: a protocol error
        ["vram", {}],  # registered, not allowed: the same protocol error
    ]
    report = typescript_client(clients, {"command": local_command(mcp_policy), "calls": calls, "follow": app})

    assert report["sdkVersion"] == "1.32.2"
    assert report["server"]["name"] == "rshell"
    assert report["capabilities"]["tools"] == {"listChanged": True}
    assert sorted(report["tools"]) == ["bench", "logs", "ps", "restart", "whoami"]
    results = report["results"]
    assert [result.get("isError") for result in results[:7]] == [False, False, False, False, False, False, True]
    assert results[1]["structuredContent"]["output"]["lines"] == ["4999", "5000"]
    assert results[2]["structuredContent"]["ended"] == "deadline"
    assert results[6]["structuredContent"]["error"]["message"] == "logs: tail must be a whole number"
    assert results[7]["thrown"] == {"code": -32602, "message": "MCP error -32602: Unknown tool: 'rm'"}
    assert results[8]["thrown"] == {"code": -32602, "message": "MCP error -32602: Unknown tool: 'vram'"}
    follow = report["follow"]
    assert follow["cancelled"] is True
    assert follow["pingAfterCancel"] is True
    assert follow["logged"][0]["data"]["lines"][0].startswith("tick ")
    assert "Traceback" not in report["stderr"]
    assert protocol_errors(report) == []  # every server message passed the SDK's own schemas
    logs = [r for r in audit_records(policy_dir) if r["verb"] == "logs" and r["exit_code"] == 130]
    assert len(logs) == 2  # the deadline and the cancel both end the verb as Ctrl-C does, and are audited


def test_the_inspector_cli_lists_strictly_and_gets_each_result(
    clients: Path, mcp_policy: Path, containers: EngineContainers
) -> None:
    server = local_command(mcp_policy)
    listed = inspector(clients, server, "--method", "tools/list", "--strict")
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    tools = {tool["name"]: tool for tool in json.loads(listed.stdout)["tools"]}
    assert sorted(tools) == ["bench", "logs", "ps", "restart", "whoami"]

    follow = ["--tool-name", "logs", "--tool-arg", f"container={containers.name('app')}", "follow=true", "seconds=1"]
    cases = [
        (["--tool-name", "ps", "--tool-arg", "all=true"], False),
        (["--tool-name", "whoami"], False),
        (follow, False),
        (["--tool-name", "logs", "--tool-arg", f"container={containers.name('hidden')}"], True),
    ]
    for arguments, is_error in cases:
        called = inspector(clients, server, "--method", "tools/call", *arguments)
        assert called.returncode == (5 if is_error else 0), (arguments, called.stdout, called.stderr)  # 5: isError
        result = json.loads(called.stdout)
        assert result.get("isError", False) is is_error, (arguments, result)
        name = arguments[1]
        jsonschema.Draft202012Validator(tools[name]["outputSchema"]).validate(result["structuredContent"])
    unknown = inspector(clients, server, "--method", "resources/read", "--uri", "rshell://nothing")
    assert unknown.returncode != 0
    assert "-32002" in unknown.stdout + unknown.stderr or "not found" in (unknown.stdout + unknown.stderr).lower()
