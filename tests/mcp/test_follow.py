"""``logs`` with ``follow: true`` over MCP: lines reach the client while the call runs, and are never lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp import ClientSession
from mcp.client.stdio import stdio_client

from tests.mcp.client import server_parameters, structured
from tests.mcp.raw import RawPeer, local_command, raw_server
from tests.support.engine import EngineContainers
from tests.support.shell import audit_records


def test_a_follow_streams_progress_and_log_messages_then_returns_its_lines_at_the_deadline(
    mcp_policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    reported: list[tuple[float, str | None]] = []
    logged: list[Any] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append((progress, message))

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logged.append(params.data)

    async def scenario() -> types.CallToolResult:
        async with (
            stdio_client(server_parameters(mcp_policy)) as (read_stream, write_stream),
            ClientSession(read_stream, write_stream, logging_callback=on_log) as session,
        ):
            await session.initialize()
            arguments: dict[str, Any] = {"container": containers.name("app"), "follow": True, "tail": 1, "seconds": 2}
            return await session.call_tool("logs", arguments, progress_callback=on_progress)

    result = anyio.run(scenario)
    assert not result.is_error
    document = structured(result)
    assert document["ended"] == "deadline"
    lines = document["output"]["lines"]
    assert len(lines) >= 3  # a tick every 0.2 s for 2 s
    assert all(line.startswith("tick ") for line in lines)
    assert document["line_count"] == len(lines)
    streamed = [line for data in logged for line in data["lines"]]
    assert streamed == lines  # every line went out as it came, and all of them are in the result
    assert {(data["untrusted"], data["source"]) for data in logged} == {(True, "container")}
    assert "\n".join(message or "" for _, message in reported).split("\n") == lines
    assert [done for done, _ in reported] == sorted({done for done, _ in reported})  # increasing
    done = [r for r in audit_records(policy_dir) if r["verb"] == "logs"]
    assert [(r["mode"], r["exit_code"]) for r in done] == [("mcp", 130)]  # ended by its deadline, as by Ctrl-C


def test_a_cancelled_follow_has_sent_its_lines_and_the_session_goes_on(
    mcp_policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    follow = {"name": "logs", "arguments": {"container": containers.name("app"), "follow": True, "seconds": 60}}
    with raw_server(local_command(mcp_policy)) as peer:
        peer.initialize()
        peer.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": follow})
        first = logged_lines(peer)
        peer.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})
        record = wait_for_logs_record(policy_dir)
        ping = peer.call(2, "ping")
    assert first
    assert first[0].startswith("tick ")
    assert ping["result"] == {}
    assert (record["mode"], record["phase"], record["exit_code"]) == ("mcp", "done", 130)


def test_container_output_is_sanitised_and_marked_untrusted(mcp_policy: Path, containers: EngineContainers) -> None:
    with raw_server(local_command(mcp_policy)) as peer:
        peer.initialize()
        arguments = {"container": containers.name("ansi"), "tail": 10}
        answer = peer.call(1, "tools/call", {"name": "logs", "arguments": arguments})
    result = answer["result"]
    output = result["structuredContent"]["output"]
    assert output["untrusted"] is True
    assert output["source"] == "container"
    assert "plain" in output["lines"]
    text = result["content"][0]["text"] + "".join(output["lines"])
    assert not any(char in text for char in "\x1b\x07\x9b")  # no escape sequence reaches a terminal client


def logged_lines(peer: RawPeer) -> list[str]:
    message = peer.wait_for(lambda message: message.get("method") == "notifications/message")
    lines: list[str] = message["params"]["data"]["lines"]
    return lines


def wait_for_logs_record(policy_dir: Path) -> dict[str, Any]:
    for _ in range(200):
        found = [r for r in audit_records(policy_dir) if r["verb"] == "logs"]
        if found:
            return found[0]
        anyio.run(anyio.sleep, 0.05)
    raise AssertionError("the cancelled follow wrote no audit record")
