"""An MCP session over time: a client that leaves mid-verb, and a tool list that follows what is visible."""

from __future__ import annotations

import contextlib
import secrets
import time
from pathlib import Path

import docker

from tests.mcp.conftest import agent_policy
from tests.mcp.raw import local_command, raw_server
from tests.ollama_server import FakeModel, FakeOllama
from tests.support.engine import EngineContainers
from tests.support.shell import audit_records


def test_a_client_gone_mid_restart_leaves_both_audit_records_and_the_server_exits(
    mcp_policy: Path, policy_dir: Path, restartable: str
) -> None:
    with raw_server(local_command(mcp_policy)) as peer:
        peer.initialize()
        call = {"name": "restart", "arguments": {"container": restartable, "timeout": 20}}
        peer.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call})
        intent = wait_for(policy_dir, "intent")
        peer.close_input()  # the client goes away while the restart runs
        status = peer.process.wait(timeout=60)
    done = [r for r in audit_records(policy_dir) if r["verb"] == "restart" and r["phase"] == "done"]
    assert intent["mode"] == "mcp"
    assert len(done) == 1, audit_records(policy_dir)
    assert done[0]["decision"] == "allowed"
    assert status == 0


def test_a_client_gone_mid_bench_cancels_it_and_its_record_is_written(
    policy_dir: Path, containers: EngineContainers
) -> None:
    with FakeOllama([FakeModel("llama3.2:1b", token_interval=0.02)]) as slow:
        policy = agent_policy(policy_dir, containers, "ps, bench, mcp", slow.url)
        with raw_server(local_command(policy)) as peer:
            peer.initialize()
            arguments = {"target": "gpu1", "model": ["llama3.2:1b"], "runs": 5, "test": "tg128"}
            params = {"name": "bench", "arguments": arguments, "_meta": {"progressToken": "b"}}
            peer.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
            peer.wait_for(lambda message: message.get("method") == "notifications/progress", timeout=60)
            peer.close_input()  # the client goes away while the bench runs
            status = peer.process.wait(timeout=120)
    done = [r for r in audit_records(policy_dir) if r["verb"] == "bench"]
    assert [(r["mode"], r["phase"], r["exit_code"]) for r in done] == [("mcp", "done", 130)]
    assert status == 0


def test_a_new_visible_container_changes_the_tool_list_and_the_client_is_told(
    mcp_policy: Path, containers: EngineContainers
) -> None:
    name = f"appears-{secrets.token_hex(3)}"
    try:
        with raw_server(local_command(mcp_policy)) as peer:
            peer.initialize()
            before = peer.call(1, "tools/list")["result"]["tools"]
            containers.run(name, "sleep 3600", labels={"rshell.visible": "true"})
            peer.wait_for(lambda message: message.get("method") == "notifications/tools/list_changed", timeout=30)
            after = peer.call(2, "tools/list")["result"]["tools"]
    finally:  # the session's containers are shared: other suites count the visible set
        with contextlib.suppress(docker.errors.NotFound):
            containers.client.containers.get(containers.name(name)).remove(force=True)
    assert containers.name(name) not in container_enum(before)
    assert containers.name(name) in container_enum(after)


def container_enum(tools: list[dict[str, object]]) -> list[str]:
    logs = next(tool for tool in tools if tool["name"] == "logs")
    schema = logs["inputSchema"]
    assert isinstance(schema, dict)
    return list(schema["properties"]["container"].get("enum", []))


def wait_for(policy_dir: Path, phase: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [r for r in audit_records(policy_dir) if r["verb"] == "restart" and r["phase"] == phase]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no restart {phase} record in {audit_records(policy_dir)}")
