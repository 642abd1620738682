"""start and stop on the real engine: they act, are audited before acting, rate-limited, and see no hidden container."""

from __future__ import annotations

import secrets
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.support.checks import refusal, success
from tests.support.engine import EngineContainers
from tests.support.shell import audit_records, run_rshell, write_policy

#: exits at once on SIGTERM
SERVE = "trap 'exit 0' TERM; while true; do sleep 0.1; done"


def make(containers: EngineContainers, *, start: bool, **options: Any) -> Any:
    return containers.run(f"ss{secrets.token_hex(3)}", SERVE, labels={"rshell.visible": "true"}, start=start, **options)


@pytest.fixture
def lifecycle_policy(policy_dir: Path, containers: EngineContainers) -> Path:
    body = f"""\
        principals:
          users:
            root: operator
        roles:
          operator:
            verbs: [start, stop]
            containers:
              names: [{containers.name("app")}]
              labels:
                - rshell.visible: "true"
            limits:
              start: {{count: 1, per: 10m}}
              stop: {{count: 1, per: 10m}}
            settings:
              stop: {{stop_timeout: 2s, max_timeout: 5s}}
        """
    return write_policy(policy_dir, textwrap.dedent(body))


def test_stop_then_start_act_on_the_engine_and_are_audited_before_acting(
    lifecycle_policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    target = make(containers, start=True, healthcheck=["CMD", "true"])
    stopped = success(run_rshell(lifecycle_policy, "-c", f"stop {target.name} --json")).json()
    assert (stopped["state"], stopped["exit_code"], stopped["already_stopped"]) == ("exited", 0, False)
    assert not containers.client.api.inspect_container(target.id)["State"]["Running"]
    started = success(run_rshell(lifecycle_policy, "-c", f"start {target.name} --json")).json()
    assert (started["state"], started["health"], started["already_running"]) == ("running", "healthy", False)
    assert containers.client.api.inspect_container(target.id)["State"]["Running"]
    phases = [(record["verb"], record["phase"], record.get("exit_code")) for record in audit_records(policy_dir)]
    assert phases == [("stop", "intent", None), ("stop", "done", 0), ("start", "intent", None), ("start", "done", 0)]


@pytest.mark.parametrize("verb", ["start", "stop"])
def test_the_limit_holds_across_processes(verb: str, lifecycle_policy: Path, containers: EngineContainers) -> None:
    target = make(containers, start=verb == "stop")
    first = success(run_rshell(lifecycle_policy, "-c", f"{verb} {target.id[:12]}"))
    said = {"start": f"{target.name} started: running after ", "stop": f"{target.name} stopped: exited, exit code 0"}
    assert first.stdout.startswith(said[verb])
    assert first.stderr == f"{ {'start': 'starting', 'stop': 'stopping'}[verb] } {target.name} ...\n"
    refusal(run_rshell(lifecycle_policy, "-c", f"{verb} {target.name}"), 126, "limit")


def test_a_start_that_does_not_stay_up_fails(lifecycle_policy: Path, containers: EngineContainers) -> None:
    target = containers.run(f"ss{secrets.token_hex(3)}", "exit 5", labels={"rshell.visible": "true"}, start=False)
    refusal(
        run_rshell(lifecycle_policy, "-c", f"start {target.name}"), 1, "did not stay up after the start (exit code 5)"
    )


@pytest.mark.parametrize(
    ("line", "status", "fragment"),
    [
        ("start {hidden}", 126, "is visible to you"),
        ("stop {hidden_prefix}", 126, "is visible to you"),
        ("stop {app} --timeout -1", 2, "TIMEOUT"),
    ],
    ids=["start-hidden", "stop-hidden-id-prefix", "negative-timeout"],
)
def test_refusals_are_one_line_and_hidden_stays_untouched(
    line: str, status: int, fragment: str, lifecycle_policy: Path, containers: EngineContainers
) -> None:
    hidden = containers.client.api.inspect_container(containers.name("hidden"))
    text = line.format(hidden=containers.name("hidden"), hidden_prefix=hidden["Id"][:12], app=containers.name("app"))
    refusal(run_rshell(lifecycle_policy, "-c", text), status, fragment)
    assert containers.client.api.inspect_container(hidden["Id"])["State"]["Running"]
