"""Slow ollama behind a real broker: Ctrl-C in the agent's client, or the client vanishing, stops
the broker's bench at once (the lock is free for the next bench), and vram reports a trickling
target instead of waiting for it.

The test's ollama server trickles a byte every 0.5 s, so each answer would take minutes; the
bounds are generous, and what is asserted is what the agent sees.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rshell.errors import ExitStatus
from tests.broker.conftest import Names, own_broker
from tests.broker.harness import RSHELL, Agent, Broker, run_client, wait_for
from tests.ollama_server import FakeModel, FakeOllama
from tests.support.checks import success

BOUND = 20.0
BENCH_LINE = "bench gpu1 --test tg128 --runs 1"
POLICY = """\
principals:
  users:
    {user}: bencher
roles:
  bencher:
    verbs: [bench, vram]
    settings:
      bench:
        targets:
          gpu1: {{url: "URL", models: [llama3.2:1b], run_timeout: 60s, total_timeout: 120s}}
"""


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        yield server


@pytest.fixture
def bench_broker(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path, ollama: FakeOllama) -> Iterator[Broker]:
    body = POLICY.replace("URL", ollama.url)
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=body, name="bench-cancel") as running:
        yield running


@pytest.mark.parametrize(
    ("sent", "exit_status"),
    [(signal.SIGINT, ExitStatus.INTERRUPTED), (signal.SIGKILL, -signal.SIGKILL)],
    ids=["ctrl-c", "client gone"],
)
def test_ctrl_c_or_a_vanished_client_stops_the_brokers_bench_and_frees_the_lock(
    bench_broker: Broker, agent: Agent, ollama: FakeOllama, sent: signal.Signals, exit_status: int
) -> None:
    ollama.trickle["/api/generate"] = 0.5
    command = [*agent.prefix(), *RSHELL, "--broker", str(bench_broker.socket), "-c", BENCH_LINE]
    client = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: any(request.path == "/api/generate" for request in ollama.requests), BOUND)
        client.send_signal(sent)
        _stdout, stderr = client.communicate(timeout=BOUND)
    finally:
        client.kill()
        client.wait()
    assert client.returncode == exit_status, stderr
    assert wait_for(lambda: ollama.disconnects > 0, BOUND), "the broker kept the trickling connection open"
    ollama.trickle.clear()
    again = success(run_client(agent, bench_broker.socket, "-c", BENCH_LINE, timeout=60))
    assert "status:    complete" in again.stdout
    assert bench_broker.process.poll() is None
    assert "Traceback" not in bench_broker.stderr()


def test_vram_through_the_broker_reports_a_trickling_target_and_succeeds(
    bench_broker: Broker, agent: Agent, ollama: FakeOllama
) -> None:
    ollama.trickle["/api/ps"] = 0.5
    outcome = success(run_client(agent, bench_broker.socket, "-c", "vram", timeout=BOUND))
    assert f"models: gpu1: ollama at {ollama.url} did not answer /api/ps within 3s" in outcome.stdout
