"""An MCP cancel of a bench whose ollama server trickles: the open connection is cut at once (not at
run_timeout, two minutes here), the call is audited as interrupted, and the server keeps serving."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types

from tests.mcp.client import connect, wait_for_record
from tests.ollama_server import FakeOllama

BOUND = 20.0


def test_a_cancelled_bench_cuts_the_trickling_connection_and_the_server_keeps_serving(
    mcp_policy: Path, policy_dir: Path, ollama: FakeOllama
) -> None:
    ollama.trickle["/api/generate"] = 0.5

    def generating() -> bool:
        return any(request.path == "/api/generate" for request in ollama.requests)

    def cut() -> bool:
        deadline = time.monotonic() + BOUND
        while ollama.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        return ollama.disconnects > 0

    def bench_ended() -> dict[str, Any]:
        return wait_for_record(policy_dir, lambda record: record["verb"] == "bench", timeout=BOUND)

    async def scenario() -> tuple[bool, dict[str, Any], types.CallToolResult]:
        with anyio.fail_after(60):
            async with connect(mcp_policy) as session:
                async with anyio.create_task_group() as group:
                    arguments = {"target": "gpu1", "runs": 1, "test": "tg128"}
                    group.start_soon(session.call_tool, "bench", arguments)
                    while not generating():
                        await anyio.sleep(0.05)
                    group.cancel_scope.cancel()
                was_cut = await anyio.to_thread.run_sync(cut)
                record = await anyio.to_thread.run_sync(bench_ended)
                return was_cut, record, await session.call_tool("bench", {"target": "history"})

    was_cut, record, history = anyio.run(scenario)
    assert was_cut, "the trickling connection to ollama stayed open after the cancel"
    assert (record["mode"], record["phase"], record["exit_code"]) == ("mcp", "done", 130)
    assert not history.is_error
