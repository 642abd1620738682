"""Revoking ``mcp`` itself reaches an open session: the role keeps ps and logs but loses mcp, the broker
gets SIGHUP, and every request after that is refused with -32001 and the session is closed (a real
broker, the agent a real unprivileged user)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from rshell.mcp.revocation import MCP_REVOKED
from tests.broker.conftest import Names, own_broker
from tests.broker.harness import Agent, Broker, run_client
from tests.broker.test_revocation import mcp_session, set_policy
from tests.support.checks import success
from tests.support.shell import audit_records

POLICY = """\
principals:
  users:
    root: agent
    {{user}}: {role}
roles:
  agent:
    verbs: [ps, logs, mcp]
    containers:
      labels:
        - rshtest.broker: "{{prefix}}-agent"
  shell:
    verbs: [ps, logs]
    containers:
      labels:
        - rshtest.broker: "{{prefix}}-agent"
"""
REASON = "role 'shell' does not allow 'mcp'"
#: how long the closed session may take to tell the client (bounded, not timed)
CLOSE_DEADLINE = 20.0


@pytest.fixture
def mcp_broker(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=POLICY.format(role="agent"), name="mcprev") as b:
        yield b


async def refused(request: Callable[[], Awaitable[Any]]) -> MCPError:
    try:
        await request()
    except MCPError as error:
        return error
    pytest.fail("a request after mcp was revoked was answered")


def test_every_request_after_mcp_is_revoked_is_refused_and_the_session_closes(
    mcp_broker: Broker, agent: Agent, names: Names
) -> None:
    errors: list[MCPError] = []
    after_close: list[BaseException] = []

    async def scenario() -> None:
        async with mcp_session(agent, mcp_broker) as session:
            assert not (await session.call_tool("ps", {})).is_error
            await anyio.to_thread.run_sync(set_policy, mcp_broker, agent, names, POLICY.format(role="shell"))
            requests: list[Callable[[], Awaitable[Any]]] = [
                lambda: session.call_tool("ps", {}),
                session.list_tools,
                lambda: session.read_resource("rshell://whoami"),
            ]
            async with anyio.create_task_group() as group:  # sent together: all arrive before the close
                for request in requests:
                    group.start_soon(_collect, errors, request)
            with anyio.fail_after(CLOSE_DEADLINE):  # refused until the close, then no answer at all
                while not after_close:
                    try:
                        await session.call_tool("logs", {"container": "x"})
                    except MCPError as error:
                        if error.code != MCP_REVOKED:
                            after_close.append(error)
                        await anyio.sleep(0.1)
                    except Exception as error:  # the stream itself ended
                        after_close.append(error)

    async def _collect(into: list[MCPError], request: Callable[[], Awaitable[Any]]) -> None:
        into.append(await refused(request))

    anyio.run(scenario)
    assert [(error.code, error.message) for error in errors] == [
        (MCP_REVOKED, f"your role no longer allows mcp ({REASON}); this session is closed")
    ] * 3
    assert [getattr(error, "code", None) for error in after_close] == [types.CONNECTION_CLOSED], after_close
    refusals = [r for r in audit_records(mcp_broker.policy.parent) if r.get("reason") == REASON]
    assert {r.get("line") for r in refusals} == {"<mcp tools/call>", "<mcp tools/list>", "<mcp resources/read>"}
    # the broker still serves the agent's remaining verbs outside MCP
    success(run_client(agent, mcp_broker.socket, "-c", "ps"))
