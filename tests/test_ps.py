"""ps and whoami show exactly the containers the policy lets the caller see, in human and JSON form."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.checks import success
from tests.support.engine import EngineContainers
from tests.support.shell import run_rshell, write_policy

VISIBLE_RUNNING = ("app", "labelled", "ansi", "healthy", "lines")


def _hidden_marks(containers: EngineContainers) -> list[str]:
    hidden = containers.client.api.inspect_container(containers.name("hidden"))
    return [containers.name("hidden"), hidden["Id"][:12]]


@pytest.mark.parametrize("line", ["ps", "ps --all", "whoami"])
def test_human_output_never_names_a_hidden_container(policy: Path, containers: EngineContainers, line: str) -> None:
    outcome = success(run_rshell(policy, "-c", line))
    for mark in _hidden_marks(containers):
        assert mark not in outcome.stdout
    for suffix in VISIBLE_RUNNING:
        assert containers.name(suffix) in outcome.stdout


@pytest.mark.parametrize("line", ["ps --json", "ps --all --json", "whoami --json"])
def test_json_output_never_names_a_hidden_container(policy: Path, containers: EngineContainers, line: str) -> None:
    outcome = success(run_rshell(policy, "-c", line))
    for mark in _hidden_marks(containers):
        assert mark not in outcome.stdout
    document = outcome.json()
    names = document["containers"] if line.startswith("whoami") else [row["name"] for row in document["containers"]]
    ours = {name for name in names if name.startswith(containers.prefix)}
    expected = {containers.name(suffix) for suffix in VISIBLE_RUNNING}
    if "--all" in line or line.startswith("whoami"):
        expected.add(containers.name("stopped"))
    assert ours == expected


def test_ps_json_describes_each_container(policy: Path, containers: EngineContainers) -> None:
    rows = {row["name"]: row for row in success(run_rshell(policy, "-c", "ps --all --json")).json()["containers"]}
    app, stopped = rows[containers.name("app")], rows[containers.name("stopped")]
    assert (app["image"], app["state"], app["ports"]) == ("rshell-test/busybox:1", "running", [])
    assert app["uptime"]
    assert app["id"] == containers.client.api.inspect_container(containers.name("app"))["Id"][:12]
    assert (stopped["state"], stopped["uptime"]) == ("created", None)
    assert rows[containers.name("healthy")]["health"] in ("starting", "healthy")


def test_ps_human_is_a_table_with_headers(policy: Path, containers: EngineContainers) -> None:
    lines = success(run_rshell(policy, "-c", "ps")).stdout.splitlines()
    assert lines[0].split() == ["NAME", "IMAGE", "STATE", "HEALTH", "UPTIME", "PORTS"]
    app = next(line for line in lines if line.startswith(containers.name("app") + " "))
    assert "running" in app


def test_ps_with_nothing_visible_says_so(policy_dir: Path, containers: EngineContainers) -> None:
    path = write_policy(policy_dir, "principals:\n  users: {root: r}\nroles:\n  r: {verbs: [ps]}\n")
    assert success(run_rshell(path, "-c", "ps")).stdout == "no visible containers\n"
    assert success(run_rshell(path, "-c", "ps --json")).json() == {"containers": []}
