"""restart's limit (3 per 10 minutes per container) holds across separate processes, even concurrent ones."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from rshell.errors import Denied
from rshell.policy.model import RateLimit
from rshell.ratelimit import RateLimiter
from tests.support.checks import refusal, success
from tests.support.engine import EngineContainers
from tests.support.shell import RSHELL, audit_records, run_rshell

SERVE = "trap 'exit 0' TERM; while true; do sleep 0.1; done"


def _make(containers: EngineContainers) -> Any:
    return containers.run(f"rl{time.monotonic_ns()}", SERVE, labels={"rshell.visible": "true"})


def test_fourth_restart_in_separate_processes_is_denied_with_retry_time(
    policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    target = _make(containers)
    for _ in range(3):
        success(run_rshell(policy, "-c", f"restart {target.name}"))
    started = containers.client.api.inspect_container(target.id)["State"]["StartedAt"]
    outcome = run_rshell(policy, "-c", f"restart {target.name}")
    message = refusal(outcome, 126, f"rate limit: restart {target.name} is allowed 3 times per 10m; try again in ")
    assert message.endswith(("s", "m"))
    assert containers.client.api.inspect_container(target.id)["State"]["StartedAt"] == started
    records = audit_records(policy_dir)
    assert [record["phase"] for record in records].count("intent") == 3
    assert (records[-1]["decision"], records[-1]["exit_code"]) == ("denied", 126)


@pytest.fixture
def once_per_hour(policy: Path) -> Path:
    """The session policy with restart limited to once an hour, so these tests restart little."""
    policy.write_text(policy.read_text().replace("restart: {count: 3, per: 10m}", "restart: {count: 1, per: 1h}"))
    return policy


def test_the_limit_is_per_container(once_per_hour: Path, containers: EngineContainers) -> None:
    first, second = _make(containers), _make(containers)
    success(run_rshell(once_per_hour, "-c", f"restart {first.name}"))
    refusal(run_rshell(once_per_hour, "-c", f"restart {first.name}"), 126, "allowed 1 times per 1h")
    success(run_rshell(once_per_hour, "-c", f"restart {second.name}"))


@pytest.mark.parametrize("reference", ["short-id", "full-id", "prefix"])
def test_every_name_for_a_container_counts_against_it(
    once_per_hour: Path, containers: EngineContainers, reference: str
) -> None:
    target = _make(containers)
    success(run_rshell(once_per_hour, "-c", f"restart {target.name}"))
    text = {"short-id": target.id[:12], "full-id": target.id, "prefix": target.id[:6]}[reference]
    refusal(run_rshell(once_per_hour, "-c", f"restart {text}"), 126, f"rate limit: restart {target.name} ")


def test_twenty_concurrent_restarts_let_exactly_three_act(
    policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    target = _make(containers)
    command = [*RSHELL, "--policy", str(policy), "-c", f"restart {target.name} --json"]
    processes = [
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(20)
    ]
    results = [(process.wait(timeout=90), process.stderr.read().decode()) for process in processes if process.stderr]
    for process in processes:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        process.stderr.close()
    denied = [stderr for status, stderr in results if status == 126]
    assert len(denied) == 17, results
    assert all('"rate limit: restart' in stderr and "Traceback" not in stderr for stderr in denied)
    records = audit_records(policy_dir)
    assert sum(record["phase"] == "intent" for record in records) == 3
    assert len([record for record in records if record["phase"] == "done"]) == 20


def test_window_slides(tmp_path: Path) -> None:
    now = [1000.0]
    limiter = RateLimiter(tmp_path, clock=lambda: now[0])
    limit = RateLimit(count=2, per_seconds=60)
    limiter.acquire("restart", "app", limit)
    now[0] += 30
    limiter.acquire("restart", "app", limit)
    with pytest.raises(Denied, match="try again in 30s"):
        limiter.acquire("restart", "app", limit)
    now[0] += 30.5
    limiter.acquire("restart", "app", limit)


def test_corrupt_state_does_not_crash(tmp_path: Path) -> None:
    (tmp_path / "ratelimit.json").write_text('{"restart:app": "not a list", "x": [1, "y"]')
    RateLimiter(tmp_path).acquire("restart", "app", RateLimit(1, 60))
