"""stats on the real engine: the docker CLI's own numbers, for visible containers only."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.checks import refusal, success
from tests.support.engine import IMAGE, EngineContainers
from tests.support.policies import role_policy
from tests.support.shell import run_rshell

#: CPU % of one sample moves with the machine's load between the two readings; both must agree this well
CPU_MARGIN = 25.0


@pytest.fixture(scope="module")
def busy(containers: EngineContainers) -> Iterator[Any]:
    """A visible container spinning on half a CPU (the quota keeps its CPU % steady on a busy host)."""
    container = containers.client.containers.create(
        IMAGE,
        ["sh", "-c", "yes > /dev/null"],
        name=containers.name(f"busy-{secrets.token_hex(3)}"),
        labels={"rshell.visible": "true"},
        nano_cpus=500_000_000,
        mem_limit="64m",
    )
    containers.made.append(container.id)
    container.start()
    yield container
    containers.client.api.remove_container(container.id, force=True)


@pytest.fixture
def stats_policy(policy_dir: Path, containers: EngineContainers) -> Path:
    return role_policy(policy_dir, containers, "stats")


def docker_cli_cpu_percent(container_id: str) -> float:
    completed = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.CPUPerc}}", container_id],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(completed.stdout.strip().rstrip("%"))


def test_cpu_percent_agrees_with_docker_stats(stats_policy: Path, busy: Any) -> None:
    ours = success(run_rshell(stats_policy, "-c", f"stats {busy.name} --json")).json()["containers"]
    theirs = docker_cli_cpu_percent(busy.id)
    assert [row["name"] for row in ours] == [busy.name]
    assert ours[0]["cpu_percent"] > 10.0, ours
    assert abs(ours[0]["cpu_percent"] - theirs) <= CPU_MARGIN, (ours, theirs)
    assert ours[0]["memory_limit_bytes"] == 64 * 1024 * 1024
    assert 0 < ours[0]["memory_bytes"] < ours[0]["memory_limit_bytes"]
    assert ours[0]["pids"] >= 1


def test_every_visible_running_container_and_no_hidden_one(
    stats_policy: Path, containers: EngineContainers, busy: Any
) -> None:
    rows = success(run_rshell(stats_policy, "-c", "stats --json")).json()["containers"]
    names = {row["name"] for row in rows}
    assert {busy.name, containers.name("app"), containers.name("labelled")} <= names
    assert containers.name("hidden") not in names
    assert containers.name("stopped") not in names  # not running: nothing to sample


@pytest.mark.parametrize(
    ("words", "status", "fragment"),
    [
        ("{hidden}", 126, "is visible to you"),
        ("{hidden} --watch 1 --count 1", 126, "is visible to you"),
        ("--watch 0", 2, "--watch"),
        ("--count x", 2, "COUNT"),
        ("{app} {app}", 2, "stats"),
    ],
    ids=["hidden", "hidden-watch", "zero-interval", "bad-count", "extra-argument"],
)
def test_bad_input_is_one_line(
    words: str, status: int, fragment: str, stats_policy: Path, containers: EngineContainers
) -> None:
    line = "stats " + words.format(hidden=containers.name("hidden"), app=containers.name("app"))
    refusal(run_rshell(stats_policy, "-c", line), status, fragment)


def test_watch_shows_one_table_per_sample(stats_policy: Path, busy: Any) -> None:
    tables = success(run_rshell(stats_policy, "-c", f"stats {busy.name} --watch 1 --count 2")).stdout.split("\n\n")
    assert len(tables) == 2
    for table in tables:
        heading, row = table.strip().splitlines()
        assert heading.split("  ")[0] == "NAME"
        assert heading.split()[-1] == "PIDS"
        assert row.startswith(f"{busy.name} ")
        assert "/ 64.0 MiB" in row
