"""An agent's MCP client launching `ssh ai-worker@host -- mcp`, as its configuration would."""

from __future__ import annotations

from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.e2e.deployment import CLIENT_ENV, USER, Deployment
from tests.support.shell import audit_records


def ssh_mcp(deployment: Deployment) -> StdioServerParameters:
    command = deployment.client("ssh", "-p", "-T", f"{USER}@127.0.0.1", "--", "mcp")
    return StdioServerParameters(command=command[0], args=command[1:], env=CLIENT_ENV, cwd="/")


def container_enum(schema: dict[str, Any]) -> list[str]:
    return list(schema.get("properties", {}).get("container", {}).get("enum", []))


async def session_over_ssh(deployment: Deployment) -> tuple[dict[str, list[str]], dict[str, Any], str]:
    async with (
        stdio_client(ssh_mcp(deployment)) as (read_stream, write_stream),
        ClientSession(read_stream, write_stream) as session,
    ):
        await session.initialize()
        tools = (await session.list_tools()).tools
        enums = {
            tool.name: tool.input_schema.get("properties", {}).get("container", {}).get("enum", []) for tool in tools
        }
        ps = await session.call_tool("ps", {})
        assert not ps.is_error
        assert isinstance(ps.structured_content, dict)
        denied = await session.call_tool("logs", {"container": deployment.hidden})
        assert denied.is_error
        first = denied.content[0]
        return enums, ps.structured_content, getattr(first, "text", "")


def test_mcp_over_the_real_ssh_login(deployment: Deployment) -> None:
    enums, ps, refusal = anyio.run(session_over_ssh, deployment)

    assert set(enums) == {"ps", "logs", "restart", "whoami"}
    assert enums["logs"] == [deployment.web]  # the hidden container is in no schema
    assert [row["name"] for row in ps["containers"]] == [deployment.web]
    assert refusal.startswith("denied: ")
    modes = {(record["verb"], record["mode"]) for record in audit_records(deployment.policy.parent)}
    assert ("ps", "mcp") in modes
