"""MCP through rshelld as production runs it: framing caps, official clients, and a client that leaves mid-verb."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import Names, own_broker
from tests.broker.harness import Agent, Broker
from tests.mcp.nodeclients import NODE_DIR, NodeMissing, ensure_clients, inspector_cli, protocol_errors
from tests.mcp.raw import raw_server
from tests.support.shell import audit_records

POLICY = """\
principals:
  users:
    {user}: agent
roles:
  agent:
    verbs: [ps, logs, restart, mcp]
    containers:
      labels:
        - rshtest.broker: "{prefix}-agent"
    settings:
      restart: {{stop_timeout: 1s, max_timeout: 30s}}
      mcp: {{max_message: 64KiB, max_calls: 2}}
"""


@pytest.fixture
def wire_broker(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=POLICY, name="mcpwire") as running:
        yield running


def client_command(agent: Agent, broker: Broker) -> list[str]:
    return [*agent.prefix(), sys.executable, "-I", "-m", "rshell.cli", "--broker", str(broker.socket), "-c", "mcp"]


def broker_rss_kib(broker: Broker) -> int:
    status = Path(f"/proc/{broker.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def test_a_huge_line_is_refused_without_being_held_and_the_session_goes_on(wire_broker: Broker, agent: Agent) -> None:
    with raw_server(client_command(agent, wire_broker)) as peer:
        peer.initialize()
        before = broker_rss_kib(wire_broker)
        chunk = b"x" * (1 << 20)
        for _ in range(64):  # 64 MiB without a newline, against a 64 KiB cap
            peer.send(chunk)
        peer.send(b"\n")
        refused = peer.next()
        grown = broker_rss_kib(wire_broker) - before
        ping = peer.call(1, "ping")
    assert refused is not None
    assert (refused["id"], refused["error"]["code"]) == (None, -32600)
    assert "longer than 65536 bytes" in refused["error"]["message"]
    assert ping["result"] == {}
    assert grown < 16 * 1024, f"the broker grew by {grown} KiB while skipping a 64 MiB line"
    lines = [r.get("line") for r in audit_records(wire_broker.policy.parent)]
    assert "<json-rpc message over 65536 bytes>" in lines


def test_calls_past_the_policys_cap_are_refused(wire_broker: Broker, agent: Agent, names: Names) -> None:
    follow = {"name": "logs", "arguments": {"container": names.name("quiet"), "follow": True, "seconds": 20}}
    with raw_server(client_command(agent, wire_broker)) as peer:
        peer.initialize()
        for request_id in (1, 2, 3):
            peer.send({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": follow})
        refused = peer.answer(3)
    assert refused["error"]["code"] == -32010
    assert "2 calls are in flight" in refused["error"]["message"]


def test_a_client_gone_mid_restart_leaves_intent_and_done(wire_broker: Broker, agent: Agent, names: Names) -> None:
    with raw_server(client_command(agent, wire_broker)) as peer:
        peer.initialize()
        call = {"name": "restart", "arguments": {"container": names.name("bounce"), "timeout": 20}}
        peer.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call})
        wait_for_phase(wire_broker, "intent")
        peer.process.kill()  # the agent's side vanishes mid-verb
    done = wait_for_phase(wire_broker, "done")
    assert (done["mode"], done["decision"], done["user"]) == ("mcp", "allowed", agent.user)


def test_the_official_clients_through_the_broker(wire_broker: Broker, agent: Agent, names: Names) -> None:
    try:
        clients = ensure_clients()
    except NodeMissing as missing:
        pytest.skip(str(missing))
    shutil.copyfile(NODE_DIR / "client.mjs", clients / "client.mjs")
    server = client_command(agent, wire_broker)
    scenario = {"command": server, "calls": [["ps", {}], ["nope", {}]], "follow": names.name("app")}
    completed = subprocess.run(
        ["node", str(clients / "client.mjs"), json.dumps(scenario)], capture_output=True, timeout=180, check=False
    )
    assert completed.returncode == 0, completed.stderr.decode()
    report: dict[str, Any] = json.loads(completed.stdout)
    assert sorted(report["tools"]) == ["logs", "ps", "restart", "whoami"]
    assert report["results"][0]["isError"] is False
    assert report["results"][1]["thrown"]["code"] == -32602
    assert report["follow"]["cancelled"] is True
    assert protocol_errors(report) == []
    assert report["follow"]["logged"][0]["data"]["untrusted"] is True
    listed = subprocess.run(
        [*inspector_cli(clients), *server, "--method", "tools/list", "--strict"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",
    )
    assert listed.returncode == 0, listed.stderr
    assert sorted(tool["name"] for tool in json.loads(listed.stdout)["tools"]) == ["logs", "ps", "restart", "whoami"]


def wait_for_phase(broker: Broker, phase: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [r for r in audit_records(broker.policy.parent) if r["verb"] == "restart" and r["phase"] == phase]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no restart {phase} record: {audit_records(broker.policy.parent)}")
