"""restart on the real engine: waits for running (and healthy), fails clearly, is audited before it acts."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.checks import refusal, success
from tests.support.engine import EngineContainers
from tests.support.shell import audit_records, run_rshell

#: stops at once on SIGTERM, so a restart takes well under a second
SERVE = "trap 'exit 0' TERM; while true; do sleep 0.1; done"
VISIBLE = {"rshell.visible": "true"}


def make(containers: EngineContainers, script: str, **options: Any) -> Any:
    """A label-selected (visible) container of its own for one test."""
    return containers.run(f"r{time.monotonic_ns()}", script, labels=VISIBLE, **options)


def started_at(containers: EngineContainers, container: Any) -> str:
    return str(containers.client.api.inspect_container(container.id)["State"]["StartedAt"])


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()


def test_healthy_container_comes_back_running_and_healthy(
    policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    target = make(containers, SERVE, healthcheck=["CMD", "true"])
    before = started_at(containers, target)
    document = success(run_rshell(policy, "-c", f"restart {target.name} --json")).json()
    assert (document["container"], document["state"], document["health"]) == (target.name, "running", "healthy")
    state = containers.client.api.inspect_container(target.id)["State"]
    assert state["Running"]
    assert state["Health"]["Status"] == "healthy"
    assert state["StartedAt"] != before
    intent, done = audit_records(policy_dir)
    assert (intent["phase"], done["phase"], done["exit_code"]) == ("intent", "done", 0)
    assert intent["targets"] == done["targets"] == [{"id": target.id, "name": target.name}]


def test_human_restart_says_what_happened(policy: Path, containers: EngineContainers) -> None:
    target = make(containers, SERVE)
    outcome = success(run_rshell(policy, "-c", f"restart {target.id[:12]}"))
    assert outcome.stdout.startswith(f"{target.name} restarted: running after ")
    assert outcome.stderr == f"restarting {target.name} ...\n"


def test_intent_is_recorded_before_the_engine_acts(
    policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    target = make(containers, SERVE)
    success(run_rshell(policy, "-c", f"restart {target.name}"))
    intent, done = audit_records(policy_dir)
    assert intent["phase"] == "intent"
    assert intent["decision"] == "allowed"
    assert intent["time"] <= _epoch(started_at(containers, target)) <= done["time"]


@pytest.mark.parametrize(
    ("script", "healthcheck", "fragment"),
    [
        ("exit 3", None, "did not stay up after the restart (exit code 3)"),
        ("sleep 0.3; exit 4", None, "did not stay up after the restart (exit code 4)"),
        (SERVE, ["CMD", "false"], "is running but unhealthy after the restart"),
    ],
    ids=["exits-at-once", "exits-soon", "unhealthy"],
)
def test_container_that_does_not_come_back_fails_with_one_line(
    policy: Path,
    policy_dir: Path,
    containers: EngineContainers,
    *,
    script: str,
    healthcheck: list[str] | None,
    fragment: str,
) -> None:
    target = make(containers, script, healthcheck=healthcheck)
    outcome = run_rshell(policy, "-c", f"restart {target.name} --timeout 20")
    refusal(outcome, 1, f"{target.name} ")
    assert fragment in outcome.stderr
    assert audit_records(policy_dir)[-1]["exit_code"] == 1


def test_json_failure_is_a_json_error(policy: Path, containers: EngineContainers) -> None:
    target = make(containers, "exit 3")
    refusal(run_rshell(policy, "-c", f"restart {target.name} --json"), 1, "did not stay up", json_error=True)


def test_restart_refuses_to_act_when_the_audit_log_cannot_be_written(
    policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    target = make(containers, SERVE)
    before = started_at(containers, target)
    blocker = policy_dir / "not-a-directory"
    blocker.write_text("")
    policy.write_text(policy.read_text().replace(f"{policy_dir}/audit.jsonl", f"{blocker}/audit.jsonl"))
    outcome = run_rshell(policy, "-c", f"restart {target.name}")
    refusal(outcome, 1, f"cannot write the audit log {blocker}/audit.jsonl")
    assert "refusing to act" in outcome.stderr
    assert "restarting" not in outcome.stderr
    assert started_at(containers, target) == before
