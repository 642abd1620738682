"""Many clients at once: latency under 200 concurrent ``ps``, streams freed when a client dies, and a
rate limit that holds across 50 separate processes."""

from __future__ import annotations

import json
import shutil
import socket
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import BOUNCE_SCRIPT, POLICY, Names, own_broker
from tests.broker.harness import RSHELL, Agent, Broker, raw_exchange, run_as, settled_threads, wait_for
from tests.support.shell import audit_records

CONCURRENT_PS = 200
CONCURRENT_RESTARTS = 50
#: as the agent: COUNT threads wait at a barrier, then each connects and runs ``ps --json``;
#: prints each one's exit status, latency (connect to end) and the number of rows it saw
CONCURRENT_CLIENT = """
import json, socket, sys, threading, time
from rshell.frames import frames_of
path, count = sys.argv[1], int(sys.argv[2])
barrier = threading.Barrier(count)
results = [None] * count

def one(index):
    barrier.wait()
    started = time.monotonic()
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(120)
        sock.connect(path)
        sock.sendall(b'{"v": 1, "op": "run", "line": "ps --json", "mode": "c"}\\n')
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        sock.close()
        frames = frames_of(data)
        out = "".join(payload.decode() for kind, payload in frames if kind == b"1")
        rows = len(json.loads(out)["containers"]) if out else 0
        status = int(frames[-1][1]) if frames and frames[-1][0] == b"E" else None
        results[index] = {"status": status, "seconds": time.monotonic() - started, "rows": rows}
    except Exception as error:
        results[index] = {"status": None, "error": repr(error), "seconds": time.monotonic() - started}

threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(results))
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def test_200_concurrent_ps_all_succeed(broker: Broker, agent: Agent) -> None:
    outcome = run_as(agent, CONCURRENT_CLIENT, str(broker.socket), str(CONCURRENT_PS), timeout=180)
    assert outcome.status == 0, outcome.stderr
    results: list[dict[str, Any]] = json.loads(outcome.stdout)
    failures = [result for result in results if result["status"] != 0 or result["rows"] != 3]
    assert not failures, failures[:5]
    seconds = [result["seconds"] * 1000 for result in results]
    print(
        f"\n{CONCURRENT_PS} concurrent ps through rshelld: p50 {statistics.median(seconds):.0f} ms,"
        f" p99 {percentile(seconds, 0.99):.0f} ms, max {max(seconds):.0f} ms"
    )


def test_a_client_killed_mid_follow_frees_its_server_side_stream(broker: Broker, agent: Agent, names: Names) -> None:
    baseline = settled_threads(broker)
    command = [*agent.prefix(), *RSHELL, "--broker", str(broker.socket), "-c", f"logs {names.name('quiet')} --follow"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    assert process.stdout is not None
    assert process.stdout.readline() == b"quiet-ready\n"
    following = broker.threads()
    assert following >= baseline + 1, (baseline, following)
    process.kill()
    process.wait(timeout=10)
    assert wait_for(lambda: broker.threads() <= baseline, 5), (baseline, following, broker.threads())


@pytest.fixture
def rate_limited(names: Names) -> Iterator[Any]:
    """A container only this test restarts, so its limit (3 per 10 minutes) starts empty."""
    container = names.containers.run(f"limit{time.monotonic_ns() % 100000}", BOUNCE_SCRIPT, labels=names.agent_labels)
    container.reload()
    yield container
    container.remove(force=True)


def test_a_rate_limit_holds_across_50_concurrent_processes(
    broker: Broker, agent: Agent, broker_etc: Path, engine: Any, rate_limited: Any
) -> None:
    name = rate_limited.name
    since = int(time.time()) - 1
    command = [*agent.prefix(), *RSHELL, "--broker", str(broker.socket), "-c", f"restart {name}"]
    processes = [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")
        for _ in range(CONCURRENT_RESTARTS)
    ]
    statuses = Counter(process.wait(timeout=120) for process in processes)
    denials = [process.stderr.read().decode() for process in processes if process.returncode == 126]  # type: ignore[union-attr]
    assert statuses[126] == CONCURRENT_RESTARTS - 3, statuses
    assert all("rate limit" in text for text in denials), denials[:3]
    intents = [
        record
        for record in audit_records(broker_etc)
        if record.get("phase") == "intent" and record["targets"] and record["targets"][0]["name"] == name
    ]
    assert len(intents) == 3, intents
    assert {record["user"] for record in intents} == {agent.user}
    restarts = engine.api.events(
        since=since, until=int(time.time()) + 1, filters={"container": rate_limited.id, "event": "restart"}, decode=True
    )
    assert sum(1 for _ in restarts) == 3


def mean_seconds(command: list[str], runs: int = 5) -> float:
    started = time.monotonic()
    for _ in range(runs):
        completed = subprocess.run(command, capture_output=True, cwd="/", timeout=60, check=False)
        assert completed.returncode == 0, completed.stderr
    return (time.monotonic() - started) / runs


def test_client_start_up_next_to_docker_ps(broker: Broker, agent: Agent) -> None:
    """Printed, not asserted: ``rshell -c ps`` through the broker (as the agent) against ``docker ps``."""
    rshell = mean_seconds([*agent.prefix(), *RSHELL, "--broker", str(broker.socket), "-c", "ps"])
    docker = shutil.which("docker")
    versus = f"; docker ps {mean_seconds([docker, 'ps']) * 1000:.0f} ms" if docker else ""
    print(f"\nrshell --broker -c ps {rshell * 1000:.0f} ms (mean of 5){versus}")


#: about 100 kB/s of output: enough to fill the socket buffers of a client that does not read
CHATTY_SCRIPT = "while true; do seq 1 2000; sleep 0.1; done"


def test_a_client_that_stops_reading_is_cut_off_and_its_stream_freed(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    chatty = names.containers.run(f"chatty{time.monotonic_ns() % 100000}", CHATTY_SCRIPT, labels=names.agent_labels)
    options = ("--send-timeout", "2")
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=POLICY, name="slow", options=options) as broker:
        raw_exchange(broker.socket, {"v": 1, "op": "run", "line": "ps", "mode": "c"})  # starts the cancel watcher
        baseline = settled_threads(broker)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as never_reads:
            never_reads.connect(str(broker.socket))
            request = {"v": 1, "op": "run", "line": f"logs {chatty.name} --follow --tail 1", "mode": "c"}
            never_reads.sendall(json.dumps(request).encode() + b"\n")
            assert wait_for(lambda: broker.threads() > baseline, 10)
            assert wait_for(lambda: "Resource temporarily unavailable" in broker.stderr(), 30), broker.stderr()
            assert wait_for(lambda: broker.threads() <= baseline, 10), (baseline, broker.threads())
        records = audit_records(broker.policy.parent)
        assert [record["exit_code"] for record in records if record.get("verb") == "logs"] == [1]
    chatty.remove(force=True)
