"""The broker's audit and limits with a real unprivileged agent: limits across client processes, the
client's own pid and a mode it cannot forge, logrotate, and a flood that stays under the volume cap."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import Names, own_broker
from tests.broker.harness import (
    CRAFTED_CLIENT,
    PYTHON,
    RSHELL,
    Agent,
    Broker,
    decode_replies,
    run_as,
    run_client,
    wait_for,
)
from tests.support.checks import refusal, success
from tests.support.shell import audit_records

#: the agent may run ps and logs, logs once an hour per container; audit volume 8 KiB per hour
BODY = """\
audit: {{max_bytes: 8KiB, per: 1h}}
principals:
  users:
    {user}: agent
roles:
  agent:
    verbs: [ps, logs]
    containers:
      labels:
        - rshtest.broker: "{prefix}-agent"
    limits:
      logs: {{count: 1, per: 1h}}
"""
RELOADED = "policy reloaded"


@pytest.fixture
def audited(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=BODY, name="audit") as running:
        yield running


def records(broker: Broker) -> list[dict[str, Any]]:
    return audit_records(broker.policy.parent)


def reload_and_wait(broker: Broker) -> None:
    seen = broker.stderr().count(RELOADED)
    broker.reload()
    assert wait_for(lambda: broker.stderr().count(RELOADED) > seen, 10), broker.stderr()


def test_a_logs_limit_holds_across_client_processes(audited: Broker, agent: Agent, names: Names) -> None:
    line = f"logs {names.name('quiet')} --tail 1"
    assert "quiet-ready" in success(run_client(agent, audited.socket, "-c", line)).stdout
    outcome = run_client(agent, audited.socket, "-c", line)
    refusal(outcome, 126, f"rate limit: logs {names.name('quiet')} is allowed 1 times per 1h")
    assert outcome.stdout == ""
    success(run_client(agent, audited.socket, "-c", f"logs {names.name('app')} --tail 1"))  # its own budget
    success(run_client(agent, audited.socket, "-c", "ps"))  # no limit on ps


@pytest.mark.parametrize(("args", "stdin", "mode"), [(("-c", "ps"), b"", "c"), ((), b"ps\n", "batch")])
def test_a_record_carries_the_clients_pid_and_mode(
    audited: Broker, agent: Agent, args: tuple[str, ...], stdin: bytes, mode: str
) -> None:
    client = subprocess.Popen(
        [*agent.prefix(), *RSHELL, "--broker", str(audited.socket), *args],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/",
    )  # fmt: skip
    _, stderr = client.communicate(stdin, timeout=60)
    assert client.returncode == 0, stderr
    (record,) = records(audited)
    assert (record["uid"], record["pid"], record["mode"], record["mode_source"]) == (
        agent.uid,
        client.pid,
        mode,
        "client",
    )
    assert record["pid"] != audited.pid


@pytest.mark.parametrize("mode", ["mcp", "status", "local", "", "c\n"])
def test_a_client_cannot_claim_another_mode(audited: Broker, agent: Agent, mode: str) -> None:
    payload = json.dumps({"v": 1, "op": "run", "line": "ps", "mode": mode}).encode() + b"\n"
    outcome = run_as(agent, CRAFTED_CLIENT, str(audited.socket), "full", stdin=payload)
    replies = decode_replies(bytes.fromhex(outcome.stdout.strip()))
    assert replies[-1]["op"] == "end"
    assert replies[-1]["status"] == 2
    assert records(audited) == []


@pytest.mark.parametrize("signal_first", [False, True], ids=["renamed", "renamed-then-sighup"])
def test_after_logrotate_records_land_in_the_new_file(audited: Broker, agent: Agent, signal_first: bool) -> None:
    path = audited.policy.parent / "audit.jsonl"
    success(run_client(agent, audited.socket, "-c", "ps"))
    path.rename(path.with_name("audit.jsonl.1"))
    if signal_first:
        reload_and_wait(audited)
    success(run_client(agent, audited.socket, "-c", "ps --all"))
    (rotated,) = audit_records_at(path.with_name("audit.jsonl.1"))
    (fresh,) = audit_records_at(path)
    assert (rotated["argv"], fresh["argv"]) == ([], ["--all"])


def audit_records_at(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_flood_of_refused_lines_stays_under_the_cap(audited: Broker, agent: Agent) -> None:
    """600 refused 4,000-character lines from one agent write at most 8 KiB; SIGHUP writes the summary
    that counts the rest, and the agent's calls after the flood are still served."""
    lines = [f"nope{index} {'B' * 4000}" if index % 2 else f"ps; {'C' * 4000}" for index in range(600)]
    outcome = run_client(agent, audited.socket, "--keep-going", stdin="\n".join(lines) + "\n", timeout=300)
    assert outcome.status == 127, outcome.stderr[-300:]
    assert outcome.stderr.count("\n") == 600  # every refusal still reached the agent
    reload_and_wait(audited)
    path = audited.policy.parent / "audit.jsonl"
    raw = path.read_bytes().splitlines(keepends=True)
    found = [json.loads(line) for line in raw]
    (summary,) = [record for record in found if record["phase"] == "summary"]
    flood = [record for record in found if record["phase"] != "summary"]
    assert sum(len(line) for line, record in zip(raw, found, strict=True) if record["phase"] != "summary") <= 8192
    assert summary["uid"] == agent.uid
    assert summary["suppressed"] == 600 - len(flood)
    assert summary["suppressed"] > 550
    assert f"{summary['suppressed']} records suppressed" in summary["reason"]
    assert {(entry["decision"], entry["exit_code"]) for entry in summary["counts"]} == {("refused", 2), ("denied", 127)}
    success(run_client(agent, audited.socket, "-c", "ps"))


#: the agent has no user entry; a role only through the group "nogroup", which it is not a member of
GROUP_BODY = """\
principals:
  groups:
    nogroup: agent
roles:
  agent:
    verbs: [ps]
"""


def test_the_peers_egid_is_not_one_of_its_groups(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> None:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=GROUP_BODY, name="egid") as running:
        as_nogroup = ["setpriv", f"--reuid={agent.user}", "--regid=nogroup", f"--groups={agent.group}", "--"]
        completed = subprocess.run(
            [*as_nogroup, *RSHELL, "--broker", str(running.socket), "-c", "ps"],
            capture_output=True, text=True, timeout=60, check=False, cwd="/",
        )  # fmt: skip
        assert completed.returncode == 126, completed
        assert f"user {agent.user!r} has no role in the policy" in completed.stderr
        (record,) = records(running)
        assert (record["uid"], record["decision"], record["exit_code"]) == (agent.uid, "denied", 126)
        status = subprocess.run(
            [*as_nogroup, *PYTHON, "-c", CRAFTED_CLIENT, str(running.socket), "full"],
            input=b'{"v": 1, "op": "status"}\n', capture_output=True, timeout=60, check=False, cwd="/",
        )  # fmt: skip
        (reply,) = decode_replies(bytes.fromhex(status.stdout.decode().strip()))
        assert (reply["op"], reply["user"], reply["role"]) == ("status", agent.user, None)


MCP_BODY = BODY.replace("verbs: [ps, logs]", "verbs: [ps, logs, mcp]")
MCP_LINES: list[dict[str, Any]] = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "audit-test", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "ps", "arguments": {}}},
]  # fmt: skip


def test_an_mcp_call_is_recorded_with_the_clients_pid_and_mode_mcp(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=MCP_BODY, name="audit-mcp") as running:
        client = subprocess.Popen(
            [*agent.prefix(), *RSHELL, "--broker", str(running.socket), "-c", "mcp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/",
        )  # fmt: skip
        assert client.stdin is not None
        assert client.stdout is not None
        answers = []
        for message in MCP_LINES:
            client.stdin.write(json.dumps(message).encode() + b"\n")
            client.stdin.flush()
            if "id" in message:
                answers.append(json.loads(client.stdout.readline()))
        client.stdin.close()
        assert client.wait(timeout=30) == 0
        client.stdout.close()
        assert [answer["id"] for answer in answers] == [1, 2]
        (record,) = [record for record in records(running) if record["verb"] == "ps"]
        seen = (record["pid"], record["mode"], record["mode_source"], record["uid"])
        assert seen == (client.pid, "mcp", "broker", agent.uid)


def test_an_unwritable_audit_log_refuses_ps_before_any_output(audited: Broker, agent: Agent, names: Names) -> None:
    path = audited.policy.parent / "audit.jsonl"
    success(run_client(agent, audited.socket, "-c", "ps"))
    path.rename(path.with_name("audit.jsonl.1"))
    path.mkdir()  # the path the broker writes to is no longer a file it can open
    outcome = run_client(agent, audited.socket, "-c", "ps")
    refusal(outcome, 1, f"cannot write the audit log {path}: Is a directory; refusing to act")
    assert outcome.stdout == ""
    path.rmdir()
    assert names.name("app") in success(run_client(agent, audited.socket, "-c", "ps")).stdout  # served once fixed
