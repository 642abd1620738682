"""Authority is current: an open MCP session and a running ``logs --follow`` follow the policy and
group membership in force now (a removed mapping + SIGHUP, a removed group, a rename out of the
policy), on a real broker with the agent as a real unprivileged user."""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from rshell.mcp.revocation import MCP_REVOKED
from tests.broker.conftest import Names, own_broker, policy_text
from tests.broker.harness import RSHELL, Agent, Broker, run_client
from tests.broker.test_mcp_broker import client_command
from tests.broker.test_reload import RELOADED, reload_and_wait
from tests.support.checks import refusal, success
from tests.support.shell import audit_records, write_policy

#: the agent's role is chosen by ROLE (a user entry, or none); viewer lacks restart, reader lacks logs
POLICY = """\
principals:
  users:
    root: operator
{mapping}
roles:
  operator:
    verbs: [ps, logs, restart, mcp]
    containers:
      names: ["{{prefix}}-follow"]
      labels:
        - rshtest.broker: "{{prefix}}-agent"
    settings:
      restart: {{{{stop_timeout: 1s, max_timeout: 30s}}}}
  viewer:
    verbs: [ps, logs, mcp]
    containers:
      labels:
        - rshtest.broker: "{{prefix}}-agent"
  reader:
    verbs: [ps, mcp]
    containers:
      names: ["{{prefix}}-follow"]
      labels:
        - rshtest.broker: "{{prefix}}-agent"
"""
#: how long a change may take to reach an open session: the group cache (5 s) and a re-check (1.5 s)
REACH_DEADLINE = 20.0


def body(role: str | None = None, group: str | None = None) -> str:
    """The policy with the agent mapped to ``role`` (a user entry), or its ``group`` to operator."""
    mapping = "    {user}: " + role if role else ""
    if group is not None:
        mapping += f"\n  groups:\n    {group}: operator"
    return POLICY.format(mapping=mapping)


def set_policy(broker: Broker, agent: Agent, names: Names, text: str) -> None:
    """Rewrite the broker's policy and SIGHUP it; return once it says it reloaded."""
    write_policy(broker.policy.parent, policy_text(agent, names.prefix, text))
    reload_and_wait(broker, RELOADED)


@pytest.fixture
def revocable(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=body("operator"), name="revoke") as running:
        yield running


@contextlib.asynccontextmanager
async def mcp_session(agent: Agent, broker: Broker) -> AsyncIterator[ClientSession]:
    """One MCP session of the agent through the broker, open for the whole block."""
    command = client_command(agent, broker.socket)
    parameters = StdioServerParameters(command=command[0], args=command[1:], cwd="/")
    async with (
        stdio_client(parameters) as (read_stream, write_stream),
        ClientSession(read_stream, write_stream) as session,
    ):
        await session.initialize()
        yield session


async def tool_names(session: ClientSession) -> set[str]:
    return {tool.name for tool in (await session.list_tools()).tools}


async def available(session: ClientSession, tool: str, arguments: dict[str, Any]) -> bool:
    """Call ``tool``: True when it ran, False when the session answers that no such tool exists for
    this caller (the JSON-RPC error MCP gives a verb outside the role, exactly as for a made-up name),
    or that the caller may no longer use mcp at all (no role: the session is then closed)."""
    refused: MCPError | None = None
    try:
        result = await session.call_tool(tool, arguments)
    except MCPError as error:
        refused = error
    if refused is not None and refused.code == MCP_REVOKED:
        return False
    if refused is not None:
        assert (refused.code, str(refused.message)) == (types.INVALID_PARAMS, f"Unknown tool: {tool!r}")
        return False
    assert not result.is_error, text_of(result)
    return True


def text_of(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent)
    return first.text


def role_of(result: types.CallToolResult) -> Any:
    assert not result.is_error, text_of(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content["role"]


def test_a_removed_mapping_reaches_an_open_mcp_session_at_the_next_call(
    revocable: Broker, agent: Agent, names: Names
) -> None:
    bounce = names.name("bounce")

    async def scenario() -> None:
        async with mcp_session(agent, revocable) as session:
            assert await tool_names(session) == {"ps", "logs", "restart", "whoami"}
            restarted = await session.call_tool("restart", {"container": bounce})
            assert not restarted.is_error, text_of(restarted)

            await anyio.to_thread.run_sync(set_policy, revocable, agent, names, body("viewer"))
            assert not await available(session, "restart", {"container": bounce})
            assert role_of(await session.call_tool("whoami", {})) == "viewer"
            assert await tool_names(session) == {"ps", "logs", "whoami"}

            await anyio.to_thread.run_sync(set_policy, revocable, agent, names, body(None))
            with pytest.raises(MCPError) as ended:  # no role, so no mcp: refused, and the session is closed
                await session.call_tool("restart", {"container": bounce})
            assert ended.value.code == MCP_REVOKED
            assert f"user {agent.user!r} has no role in the policy" in str(ended.value.message)

    anyio.run(scenario)
    outcome = run_client(agent, revocable.socket, "-c", "whoami")  # the role-less agent, through -c as well
    refusal(outcome, 126, f"user {agent.user!r} has no role in the policy")
    helped = success(run_client(agent, revocable.socket, "-c", "help"))
    assert "You have no role" in helped.stdout


def test_a_group_removed_from_the_user_database_reaches_an_open_session_without_sighup(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path, member_group: str
) -> None:
    bounce = names.name("bounce")
    text = body(None, group=member_group)

    async def scenario(broker: Broker) -> None:
        async with mcp_session(agent, broker) as session:
            assert role_of(await session.call_tool("whoami", {})) == "operator"
            restarted = await session.call_tool("restart", {"container": bounce})
            assert not restarted.is_error, text_of(restarted)

            subprocess.run(["gpasswd", "-d", agent.user, member_group], check=True, capture_output=True)
            deadline = time.monotonic() + REACH_DEADLINE
            while await available(session, "ps", {}):  # until refused: no role, no mcp (the session closes)
                assert time.monotonic() < deadline, "the removed group still gives the role"
                await anyio.sleep(0.5)

    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=text, name="revoke-group") as broker:
        anyio.run(scenario, broker)


@contextlib.contextmanager
def following(agent: Agent, broker: Broker, container: str) -> Iterator[subprocess.Popen[bytes]]:
    """``logs CONTAINER --follow`` as the agent through the broker, once its first line has come."""
    command = [*agent.prefix(), *RSHELL, "--broker", str(broker.socket), "-c", f"logs {container} --follow"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the followed stream showed nothing"
        assert process.stdout.readline().startswith(b"tick")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def ended(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    """The stream's exit status and stderr, which must come within REACH_DEADLINE (killed otherwise)."""
    try:
        _, stderr = process.communicate(timeout=REACH_DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("the followed stream outlived the change")
    return process.returncode, stderr.decode()


@pytest.fixture
def followed(names: Names) -> Iterator[Any]:
    """A ticking container visible by its name only (so a rename takes it out of the policy)."""
    container = names.containers.run("follow", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done")
    try:
        yield container
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)


def test_a_followed_container_renamed_out_of_the_policy_ends_the_stream_with_126(
    revocable: Broker, agent: Agent, names: Names, followed: Any
) -> None:
    name = names.name("follow")
    with following(agent, revocable, name) as process:
        followed.rename(names.name("follow-away"))
        status, stderr = ended(process)
    assert status == 126, stderr
    assert stderr == f"rshell: logs {name}: stopped: the container is no longer visible to you\n"
    assert "Traceback" not in revocable.stderr()


#: (the agent's new role, the reason its stream ends with)
LOST_LOGS = [("reader", "role 'reader' does not allow 'logs'"), (None, "user {user!r} has no role in the policy")]


@pytest.mark.parametrize("change", LOST_LOGS, ids=["verb-removed", "mapping-removed"])
def test_a_follow_ends_with_126_when_its_role_loses_logs(
    revocable: Broker, agent: Agent, names: Names, followed: Any, change: tuple[str | None, str]
) -> None:
    role, reason = change
    name = names.name("follow")
    with following(agent, revocable, name) as process:
        set_policy(revocable, agent, names, body(role))
        status, stderr = ended(process)
    assert status == 126, stderr
    assert stderr == f"rshell: logs {name}: stopped: {reason.format(user=agent.user)}\n"


#: every way a viewer (no restart) can ask about restart
UNKNOWN_RESTART = ("restart x --help", "restart --help", "help restart", "restart --bogus --help")
UNKNOWN = "unknown verb {name!r} (type 'help' for the verbs you may use)"


def test_help_of_a_verb_outside_the_role_is_the_unknown_verb_answer_through_the_broker(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=body("viewer"), name="help-agree") as broker:
        answers = {line: run_client(agent, broker.socket, "-c", line) for line in UNKNOWN_RESTART}
        made_up = refusal(run_client(agent, broker.socket, "-c", "frobnicate x --help"), 127)
    for line, outcome in answers.items():
        assert refusal(outcome, 127) == UNKNOWN.format(name="restart"), line
        assert outcome.stdout == "", line
    assert made_up == UNKNOWN.format(name="frobnicate")


def test_lines_read_by_one_client_are_each_decided_on_the_policy_in_force(
    revocable: Broker, agent: Agent, names: Names
) -> None:
    """The shell reading lines (batch, as the REPL does) through the broker: a change between two
    lines applies to the second."""
    command = [*agent.prefix(), *RSHELL, "--broker", str(revocable.socket)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        process.stdin.write(b"whoami --json\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "no answer to the first line"
        assert json.loads(process.stdout.readline())["role"] == "operator"
        set_policy(revocable, agent, names, body("viewer"))
        _, stderr = process.communicate(f"restart {names.name('bounce')}\n".encode(), timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 126
    assert stderr.decode() == "rshell: role 'viewer' does not allow 'restart'\n"


def test_a_reload_that_moves_the_audit_log_moves_an_open_session_with_it(revocable: Broker, agent: Agent) -> None:
    etc = revocable.policy.parent
    moved = etc / "moved"
    moved.mkdir(mode=0o700)

    async def scenario() -> None:
        async with mcp_session(agent, revocable) as session:
            assert not (await session.call_tool("ps", {})).is_error
            old_line, new_line = f"audit_log: {etc}/audit.jsonl", f"audit_log: {moved}/audit.jsonl"
            text = revocable.policy.read_text().replace(old_line, new_line)
            await anyio.to_thread.run_sync(revocable.policy.write_text, text)
            await anyio.to_thread.run_sync(reload_and_wait, revocable, RELOADED)
            assert not (await session.call_tool("ps", {"all": True})).is_error

    anyio.run(scenario)
    old = [record.get("argv") for record in audit_records(etc) if record.get("verb") == "ps"]
    new = [record.get("argv") for record in audit_records(moved) if record.get("verb") == "ps"]
    assert old == [[]]
    assert new == [["--all"]]
