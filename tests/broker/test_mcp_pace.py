"""MCP messages are paced per uid (rshelld --mcp-rate-per-uid): a session that pipelines hundreds of
messages has them read at the rate, all answered, none refused, while another user is served as usual."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.broker.conftest import Names, agent_role, own_broker
from tests.broker.harness import Agent, Broker, run_client
from tests.mcp.raw import raw_server
from tests.support.checks import success

POLICY = agent_role("ps", "mcp", root_too=True)
RATE = 10
PINGS = 60


def client_command(agent: Agent, broker: Broker) -> list[str]:
    return [*agent.prefix(), sys.executable, "-I", "-m", "rshell.cli", "--broker", str(broker.socket), "-c", "mcp"]


def test_a_pipelining_session_is_read_at_its_rate_and_every_message_answered(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    options = ("--mcp-rate-per-uid", str(RATE))
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=POLICY, name="mcppace", options=options) as broker:
        with raw_server(client_command(agent, broker)) as peer:
            peer.initialize()  # two messages of the burst
            started = time.monotonic()
            for request_id in range(1, PINGS + 1):
                peer.send({"jsonrpc": "2.0", "id": request_id, "method": "ping"})
            assert names.name("app") in success(run_client(None, broker.socket, "-c", "ps")).stdout
            answers = [peer.answer(request_id) for request_id in range(1, PINGS + 1)]
            took = time.monotonic() - started
        assert all(answer.get("result") == {} for answer in answers), answers[:3]
        # a burst of 2 x RATE, the rest at RATE a second: the flood waits, it is not refused
        assert took >= (PINGS + 2 - 2 * RATE) / RATE - 0.5, took
