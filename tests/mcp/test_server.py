"""``rshell -c mcp`` as an agent sees it: a real server process, driven by the SDK's client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from rshell.targets import NOT_VISIBLE
from tests.mcp.client import connect, enums, structured, text_of, tools_by_name, wait_for_record
from tests.mcp.conftest import agent_policy
from tests.ollama_server import FakeOllama
from tests.support.engine import EngineContainers
from tests.support.shell import audit_records, run_rshell


def test_tools_are_the_allowed_verbs_and_enums_name_only_visible_containers(
    mcp_policy: Path, containers: EngineContainers, tmp_path: Path
) -> None:
    async def scenario() -> tuple[dict[str, types.Tool], list[str], types.ReadResourceResult]:
        with (tmp_path / "server.err").open("w") as errlog:
            async with connect(mcp_policy, errlog) as session:
                resources = [str(resource.uri) for resource in (await session.list_resources()).resources]
                return await tools_by_name(session), resources, await session.read_resource("rshell://whoami")

    tools, resources, whoami = anyio.run(scenario)
    assert resources == ["rshell://whoami"]
    assert isinstance(whoami.contents[0], types.TextResourceContents)
    assert json.loads(whoami.contents[0].text)["verbs"] == [
        "bench",
        "exit",
        "help",
        "logs",
        "mcp",
        "ps",
        "quit",
        "restart",
        "whoami",
    ]
    assert sorted(tools) == ["bench", "logs", "ps", "restart", "whoami"]
    every_enum = {value for tool in tools.values() for value in enums(tool.input_schema)}
    assert containers.name("hidden") not in every_enum
    assert {containers.name("app"), containers.name("labelled"), containers.name("stopped")} <= every_enum
    assert containers.name("app") in enums(tools["restart"].input_schema["properties"]["container"])
    assert tools["restart"].annotations is not None
    assert tools["restart"].annotations.read_only_hint is False
    assert "Traceback" not in (tmp_path / "server.err").read_text()


def test_ps_lists_visible_containers_and_logs_returns_the_tail(
    mcp_policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    async def scenario() -> tuple[types.CallToolResult, types.CallToolResult]:
        async with connect(mcp_policy) as session:
            return await session.call_tool("ps", {"all": True}), await session.call_tool(
                "logs", {"container": containers.name("lines"), "tail": 3}
            )

    ps, logs = anyio.run(scenario)
    names = {row["name"] for row in structured(ps)["containers"]}
    assert containers.name("hidden") not in names
    assert {containers.name("app"), containers.name("stopped"), containers.name("labelled")} <= names
    document = structured(logs)
    assert document["output"] == {"untrusted": True, "source": "container", "lines": ["4998", "4999", "5000"]}
    assert document["container"] == containers.name("lines")
    verbs = {(record["verb"], record["mode"], record["exit_code"]) for record in audit_records(policy_dir)}
    assert {("ps", "mcp", 0), ("logs", "mcp", 0)} <= verbs


def test_restart_allowed_then_denied_and_the_server_keeps_answering(
    mcp_policy: Path, policy_dir: Path, containers: EngineContainers, restartable: str
) -> None:
    async def scenario() -> list[types.CallToolResult]:
        async with connect(mcp_policy) as session:
            restarted = await session.call_tool("restart", {"container": restartable, "timeout": 20})
            denied = await session.call_tool("restart", {"container": containers.name("hidden")})
            return [restarted, denied, await session.call_tool("whoami", {})]

    restarted, denied, whoami = anyio.run(scenario)
    assert not restarted.is_error, text_of(restarted)
    assert structured(restarted)["container"] == restartable
    assert structured(restarted)["state"] == "running"
    assert denied.is_error
    assert text_of(denied) == "denied: " + NOT_VISIBLE.format(text=containers.name("hidden"))
    assert structured(denied)["error"]["code"] == "denied"
    assert structured(whoami)["role"] == "agent"
    records = [record for record in audit_records(policy_dir) if record["verb"] == "restart"]
    assert [(r["mode"], r["phase"], r["decision"]) for r in records] == [
        ("mcp", "intent", "allowed"),
        ("mcp", "done", "allowed"),
        ("mcp", "done", "denied"),
    ]


def test_refusals_are_tool_errors_in_mcp_words(
    mcp_policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    app = containers.name("app")
    calls: list[tuple[str, dict[str, Any], str]] = [
        ("logs", {"container": app, "tail": 5000}, "denied: tail 5000 is more than your policy allows (2000 lines)"),
        ("logs", {"container": app, "tail": 0}, "usage: logs: tail must be at least 1"),
        ("logs", {"container": app, "tail": "10"}, "usage: logs: tail must be a whole number"),
        ("logs", {"container": app, "lines": 3}, "usage: logs: unknown argument 'lines'"),
        ("logs", {"container": app, "json": True}, "usage: logs: unknown argument 'json'"),
        ("logs", {"container": app, "seconds": 5}, "usage: logs: seconds needs follow: true"),
        ("logs", {"container": app, "follow": True, "seconds": 61}, "usage: logs: seconds must be at most 60"),
        ("bench", {"target": "gpu1", "runs": 101}, "usage: bench: runs must be at most 100"),
    ]

    async def scenario() -> list[types.CallToolResult]:
        async with connect(mcp_policy) as session:
            return [await session.call_tool(name, arguments) for name, arguments, _ in calls]

    results = anyio.run(scenario)
    for (name, arguments, expected), result in zip(calls, results, strict=True):
        assert result.is_error, (name, arguments)
        assert text_of(result).startswith(expected), (name, arguments, text_of(result))
        assert "--" not in text_of(result)
    refused = [record for record in audit_records(policy_dir) if record["decision"] == "refused"]
    assert [record["line"].split()[0] for record in refused] == ["logs"] * 5
    assert {record["mode"] for record in audit_records(policy_dir)} == {"mcp"}


def test_bench_reports_progress_to_the_client(mcp_policy: Path, policy_dir: Path, ollama: FakeOllama) -> None:
    reported: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append((progress, total, message))

    async def scenario() -> types.CallToolResult:
        async with connect(mcp_policy) as session:
            arguments = {"target": "gpu1", "model": ["llama3.2:1b"], "runs": 2, "test": "tg128"}
            return await session.call_tool("bench", arguments, progress_callback=on_progress)

    result = anyio.run(scenario)
    assert not result.is_error, text_of(result)
    document = structured(result)
    assert document["target"] == "gpu1"
    assert [model["name"] for model in document["models"]] == ["llama3.2:1b"]
    assert len(ollama.generate_bodies()) == 1 + 2
    assert [progress for progress, _, _ in reported] == [0, 1, 2, 3]
    assert {total for _, total, _ in reported} == {3}
    assert reported[1][2] == "llama3.2:1b tg128 run 1/2"
    assert wait_for_record(policy_dir, lambda record: record["verb"] == "bench")["mode"] == "mcp"


@pytest.mark.parametrize("suffix", ["app", "labelled"], ids=["ticking", "quiet"])
def test_a_cancelled_follow_ends_and_the_server_keeps_serving(
    mcp_policy: Path, policy_dir: Path, containers: EngineContainers, suffix: str
) -> None:
    def follow_ended() -> dict[str, Any]:
        return wait_for_record(policy_dir, lambda record: record["verb"] == "logs", timeout=5)

    async def scenario() -> tuple[dict[str, Any], types.CallToolResult]:
        with anyio.fail_after(30):
            async with connect(mcp_policy) as session:
                async with anyio.create_task_group() as group:
                    arguments = {"container": containers.name(suffix), "follow": True}
                    group.start_soon(session.call_tool, "logs", arguments)
                    await anyio.sleep(1.0)
                    group.cancel_scope.cancel()
                record = await anyio.to_thread.run_sync(follow_ended)
                return record, await session.call_tool("ps", {})

    record, ps = anyio.run(scenario)
    assert not ps.is_error
    assert (record["mode"], record["phase"]) == ("mcp", "done")
    assert record["exit_code"] == 130  # the verb ends at the cancel, as at Ctrl-C
    assert record["duration_ms"] < 5000


def test_a_role_without_restart_has_no_restart_tool(
    policy_dir: Path, containers: EngineContainers, restartable: str
) -> None:
    policy = agent_policy(policy_dir, containers, "ps, logs, mcp")

    async def scenario() -> tuple[list[str], MCPError]:
        async with connect(policy) as session:
            tools = sorted(await tools_by_name(session))
            try:
                await session.call_tool("restart", {"container": restartable})
            except MCPError as error:
                return tools, error
            raise AssertionError("restart was not refused")

    tools, refused = anyio.run(scenario)
    assert tools == ["logs", "ps", "whoami"]
    assert (refused.error.code, refused.error.message) == (-32602, "Unknown tool: 'restart'")


def test_mcp_denied_by_policy_exits_126_with_one_line(policy_dir: Path, containers: EngineContainers) -> None:
    outcome = run_rshell(agent_policy(policy_dir, containers, "ps, logs"), "-c", "mcp", timeout=30)
    assert outcome.status == 126
    assert outcome.stderr == "rshell: role 'agent' does not allow 'mcp'\n"
    assert outcome.stdout == ""


def test_mcp_is_a_verb_help_lists_but_not_one_to_run_from_a_line(mcp_policy: Path) -> None:
    assert "serve your allowed verbs as MCP tools" in run_rshell(mcp_policy, "-c", "help").stdout
    outcome = run_rshell(mcp_policy, "-c", "mcp --json")
    assert outcome.status == 2
    assert "run it as the whole command, e.g. ssh host -- mcp" in outcome.stderr
