"""MCP through the broker, as production runs it: the agent's process relays bytes, rshelld serves."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.broker.conftest import Names, own_broker
from tests.broker.harness import Agent, Broker
from tests.support.shell import audit_records

MCP_POLICY = """\
principals:
  users:
    {user}: agent
roles:
  agent:
    verbs: [ps, logs, mcp]
    containers:
      labels:
        - rshtest.broker: "{prefix}-agent"
"""


@pytest.fixture
def mcp_broker(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=MCP_POLICY, name="mcp") as running:
        yield running


def client_command(agent: Agent, sock: Path) -> list[str]:
    return [*agent.prefix(), sys.executable, "-I", "-m", "rshell.cli", "--broker", str(sock), "-c", "mcp"]


async def tools_and_ps(command: list[str]) -> tuple[set[str], dict[str, object]]:
    parameters = StdioServerParameters(command=command[0], args=command[1:], cwd="/")
    async with (
        stdio_client(parameters) as (read_stream, write_stream),
        ClientSession(read_stream, write_stream) as session,
    ):
        await session.initialize()
        tools = {tool.name for tool in (await session.list_tools()).tools}
        result = await session.call_tool("ps", {})
        assert not result.is_error
        assert isinstance(result.structured_content, dict)
        return tools, result.structured_content


def test_an_agent_outside_the_docker_group_gets_its_tools_from_the_broker(
    mcp_broker: Broker, agent: Agent, names: Names
) -> None:
    tools, document = anyio.run(tools_and_ps, client_command(agent, mcp_broker.socket))

    assert tools == {"ps", "logs", "whoami"}
    shown = {row["name"] for row in document["containers"]}  # type: ignore[attr-defined]
    assert names.name("app") in shown
    assert names.name("hidden") not in shown
    records = audit_records(mcp_broker.policy.parent)
    assert any(
        record["verb"] == "ps" and record["mode"] == "mcp" and record["user"] == agent.user for record in records
    )


def test_a_role_without_mcp_is_refused_by_the_broker_with_126(broker: Broker, agent: Agent) -> None:
    completed = subprocess.run(
        client_command(agent, broker.socket), input=b"", capture_output=True, timeout=30, check=False
    )

    assert completed.returncode == 126
    assert completed.stdout == b""
    assert completed.stderr.decode().count("\n") == 1
    assert "does not allow 'mcp'" in completed.stderr.decode()
    refused = [record for record in audit_records(broker.policy.parent) if record.get("line") == "mcp"]
    assert refused
    assert refused[-1]["decision"] == "refused"
