"""Approvals with a real broker and real users: an agent, an approver (in the approvers group) and a third
user who is neither. Approve, deny, the wait ending, expiry, self-approval, double approval, restart."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import jsonschema  # type: ignore[import-untyped]  # the MCP SDK's dependency, without stubs
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.broker.conftest import SOCKET_GROUP, TOKEN, Names
from tests.broker.harness import PYTHON, RSHELL, Agent, Broker, make_group, make_user, remove_account, wait_for
from tests.support.shell import Outcome, audit_records, write_policy

APPROVER_USER = f"rshtest-bp-{TOKEN}"
THIRD_USER = f"rshtest-bt-{TOKEN}"
APPROVERS_GROUP = f"rshtest-bg-{TOKEN}"
CTL = [*PYTHON, "-m", "rshell.ctl"]
#: the agent may restart its containers, each restart once an approver in APPROVERS_GROUP approves it
BODY = """\
principals:
  users:
    {agent}: agent
roles:
  agent:
    verbs: [ps, restart]
    containers:
      labels:
        - rshtest.broker: "{prefix}-agent"
    settings:
      restart: {{stop_timeout: 1s, max_timeout: 30s}}
    approval: {{verbs: [restart], approvers: {{groups: [{group}]}}, ttl: {ttl}, wait: {wait}}}
"""


@pytest.fixture(scope="module")
def people(agent: Agent) -> Iterator[tuple[Agent, Agent]]:
    """The approver (socket group and the approvers group) and a third user (socket group only)."""
    try:
        make_group(APPROVERS_GROUP)
        make_user(APPROVER_USER, SOCKET_GROUP, (APPROVERS_GROUP,))
        make_user(THIRD_USER, SOCKET_GROUP)
        yield Agent(APPROVER_USER, SOCKET_GROUP), Agent(THIRD_USER, SOCKET_GROUP)
    finally:
        remove_account("user", APPROVER_USER)
        remove_account("user", THIRD_USER)
        remove_account("group", APPROVERS_GROUP)


def start(agent: Agent, names: Names, socket_dir: Path, etc: Path, *, name: str, ttl: str, wait: str) -> Broker:
    body = BODY.format(agent=agent.user, prefix=names.prefix, group=APPROVERS_GROUP, ttl=ttl, wait=wait)
    policy = write_policy(etc, body)
    return Broker(policy, socket_dir / f"{name}.sock", agent.group, socket_dir / f"{name}.log")


@pytest.fixture(scope="module")
def approving(
    agent: Agent, names: Names, socket_dir: Path, tmp_path_factory: pytest.TempPathFactory, people: Any
) -> Iterator[Broker]:
    running = start(
        agent, names, socket_dir, tmp_path_factory.mktemp("approvals") / "etc", name="approve", ttl="60s", wait="30s"
    )
    yield running
    running.stop()


def ctl(user: Agent, broker: Broker, *args: str) -> Outcome:
    completed = subprocess.run(
        [*user.prefix(), *CTL, *args, "--socket", str(broker.socket)], capture_output=True, timeout=60, check=False
    )
    return Outcome(completed.returncode, completed.stdout.decode(), completed.stderr.decode())


def agent_line(agent: Agent, broker: Broker, line: str) -> subprocess.Popen[bytes]:
    command = [*agent.prefix(), *RSHELL, "--broker", str(broker.socket), "-c", line]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")


def finish(process: subprocess.Popen[bytes]) -> Outcome:
    stdout, stderr = process.communicate(timeout=60)
    return Outcome(process.returncode, stdout.decode(), stderr.decode())


def pending_id(broker: Broker, approver: Agent, count: int = 1) -> str:
    """The newest pending request's ID, as the approver's ``rshellctl requests --json`` lists it."""
    found: list[dict[str, Any]] = []

    def listed() -> bool:
        outcome = ctl(approver, broker, "requests", "--json")
        found[:] = [r for r in json.loads(outcome.stdout or "[]") if r["state"] == "pending"]
        return len(found) >= count

    assert wait_for(listed, 20, interval=0.2), broker.stderr()
    return str(found[0]["id"])


def steps(broker: Broker, request: str) -> list[tuple[str, str]]:
    records = audit_records(broker.policy.parent)
    return [(r["event"], r["user"]) for r in records if r.get("phase") == "approval" and r.get("request") == request]


def ran(broker: Broker, request: str) -> list[dict[str, Any]]:
    return [r for r in audit_records(broker.policy.parent) if r.get("approval") == request and r["phase"] == "intent"]


def test_approved_once_only_by_an_approver(agent: Agent, names: Names, approving: Broker, people: Any) -> None:
    approver, third = people
    process = agent_line(agent, approving, f'restart {names.name("bounce")} --reason "stuck at 100 % CPU"')
    request = pending_id(approving, approver)
    listed = ctl(approver, approving, "requests")
    assert request in listed.stdout
    assert "stuck at 100 % CPU" in listed.stdout
    assert agent.user in listed.stdout
    own = ctl(agent, approving, "approve", request)  # the requester, through the same broker
    assert (own.status, "your own" in own.stderr) == (126, True), own.stderr
    other = ctl(third, approving, "approve", request, "--reason", "me too")
    assert other.status == 126
    assert "not an approver" in other.stderr
    assert ctl(third, approving, "requests", "--json").stdout.strip() == "[]"  # not theirs to see
    first = ctl(approver, approving, "approve", request[:6], "--reason", "go ahead")
    assert (first.status, "approved" in first.stdout) == (0, True), first.stderr
    second = ctl(approver, approving, "approve", request)
    assert second.status == 1
    assert "already" in second.stderr
    outcome = finish(process)
    assert outcome.status == 0, outcome.stderr
    assert f"waiting for approval: request {request} (an approver runs: rshellctl approve {request})" in outcome.stderr
    assert outcome.stderr.count("waiting for approval") == 1  # said once, not every second
    assert len(ran(approving, request)) == 1
    assert steps(approving, request) == [("requested", agent.user), ("approved", approver.user), ("ran", agent.user)]


def test_denied_is_126_with_the_reason(agent: Agent, names: Names, approving: Broker, people: Any) -> None:
    approver, _third = people
    process = agent_line(agent, approving, f"restart {names.name('quiet')} --reason flaky")
    request = pending_id(approving, approver)
    assert ctl(approver, approving, "deny", request).status == 2  # a denial must say why
    assert ctl(approver, approving, "deny", request, "--reason", "not during the demo").status == 0
    outcome = finish(process)
    assert outcome.status == 126
    assert f"request {request} was denied by {approver.user}: not during the demo" in outcome.stderr
    assert not ran(approving, request)


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("restart {bounce} --reason", 2),  # --reason needs its text
        ("restart {bounce} --reason a --reason b", 2),
        ("restart {rootonly} --reason x", 126),  # not visible: denied before any request is made
        ("ps --reason x", 2),  # verbs that need no approval take no --reason
    ],
)
def test_hostile_requests(agent: Agent, names: Names, approving: Broker, line: str, code: int) -> None:
    filled = line.format(bounce=names.name("bounce"), rootonly=names.name("rootonly"))
    assert finish(agent_line(agent, approving, filled)).status == code


def test_wait_ends_then_expires(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path, people: Any) -> None:
    approver, _third = people
    running = start(agent, names, socket_dir, tmp_path / "etc", name="expire", ttl="3s", wait="1s")
    try:
        outcome = finish(agent_line(agent, running, f"restart {names.name('bounce')}"))
        assert outcome.status == 75
        assert "no decision on request" in outcome.stderr
        request = pending_id(running, approver)
        assert wait_for(lambda: "expired" in ctl(approver, running, "requests").stdout, 20, interval=0.5)
        late = ctl(approver, running, "approve", request)
        assert late.status == 1
        assert "already expired" in late.stderr
        assert [event for event, _ in steps(running, request)] == ["requested", "expired"]
    finally:
        running.stop()


def test_pending_request_survives_a_broker_restart(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path, people: Any
) -> None:
    approver, _third = people
    line = f"restart {names.name('bounce')} --reason 'after the restart'"
    running = start(agent, names, socket_dir, tmp_path / "etc", name="survive", ttl="60s", wait="1s")
    try:
        assert finish(agent_line(agent, running, line)).status == 75
        request = pending_id(running, approver)
    finally:
        running.stop()
    again = Broker(running.policy, running.socket, agent.group, running.log)
    try:
        assert request in ctl(approver, again, "requests").stdout
        assert ctl(approver, again, "approve", request).status == 0
        outcome = finish(agent_line(agent, again, line))  # the same action: runs at once, once
        assert outcome.status == 0, outcome.stderr
        assert finish(agent_line(agent, again, line)).status == 75  # used up: a new request waits again
        assert len(ran(again, request)) == 1
    finally:
        again.stop()


def test_follow_prints_one_json_line_per_event(agent: Agent, names: Names, approving: Broker, people: Any) -> None:
    approver, _third = people
    follow = subprocess.Popen(
        [*approver.prefix(), *CTL, "requests", "--follow", "--json", "--socket", str(approving.socket)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    events: queue.Queue[dict[str, Any]] = queue.Queue()

    def read() -> None:
        for line in follow.stdout or []:
            events.put(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    try:
        process = agent_line(agent, approving, f"restart {names.name('bounce')} --reason follow")
        request = pending_id(approving, approver)
        seen = [events.get(timeout=20)]
        while seen[-1]["request"]["id"] != request or seen[-1]["event"] != "requested":  # older requests first
            seen.append(events.get(timeout=20))
        assert ctl(approver, approving, "approve", request).status == 0
        assert finish(process).status == 0
        later = [events.get(timeout=20)]
        while later[-1]["event"] != "ran":
            later.append(events.get(timeout=20))
        assert {event["request"]["id"] for event in later} == {request}
        assert {event["event"] for event in later} <= {"approved", "ran"}
    finally:
        follow.send_signal(signal.SIGINT)
        assert follow.wait(timeout=20) == 130


async def restart_over_mcp(
    command: list[str], container: str, approve: Callable[[], None]
) -> tuple[Any, list[str], dict[str, Any], Any]:
    """Call the restart tool with a reason and, while it waits, let ``approve`` (in a thread) decide; the
    result, the progress seen, the tools as listed, and the requests tool's result afterwards."""
    parameters = StdioServerParameters(command=command[0], args=command[1:], cwd="/")
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with (
        stdio_client(parameters) as (read_stream, write_stream),
        ClientSession(read_stream, write_stream) as session,
    ):
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync, approve)
            arguments = {"container": container, "reason": "over mcp"}
            result = await session.call_tool("restart", arguments, progress_callback=on_progress)
        listed = await session.call_tool("requests", {})
    return result, messages, tools, listed


def test_an_mcp_call_waits_with_progress_and_returns_the_outcome(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path, people: Any
) -> None:
    approver, _third = people
    body = BODY.replace("verbs: [ps, restart]", "verbs: [ps, restart, mcp]")
    body = body.format(agent=agent.user, prefix=names.prefix, group=APPROVERS_GROUP, ttl="60s", wait="30s")
    running = Broker(write_policy(tmp_path / "etc", body), socket_dir / "mcpa.sock", agent.group, socket_dir / "m.log")
    try:
        command = [*agent.prefix(), *RSHELL, "--broker", str(running.socket), "-c", "mcp"]

        def approve() -> None:
            request = pending_id(running, approver)
            shown = json.loads(ctl(approver, running, "requests", "--json").stdout)
            assert [r["reason"] for r in shown if r["id"] == request] == ["over mcp"]  # the tool's reason argument
            assert ctl(approver, running, "approve", request).status == 0

        result, messages, tools, listed = anyio.run(restart_over_mcp, command, names.name("bounce"), approve)
        assert not result.is_error, result
        assert tools["restart"].input_schema["properties"]["reason"]["maxLength"] == 512
        assert "reason" not in tools["ps"].input_schema["properties"]  # only a tool under approval takes one
        assert tools["requests"].annotations.read_only_hint is True
        jsonschema.Draft202012Validator(tools["requests"].output_schema).validate(listed.structured_content)
        assert [(r["state"], r["reason"]) for r in listed.structured_content["requests"]] == [("ran", "over mcp")]
        assert any(message.startswith("waiting for approval: request ") for message in messages), messages
        intents = [r for r in audit_records(running.policy.parent) if r.get("phase") == "intent"]
        assert [(r["mode"], r["verb"], bool(r.get("approval"))) for r in intents] == [("mcp", "restart", True)]
    finally:
        running.stop()
