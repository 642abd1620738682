"""The first user session: ps, logs and restart on the real engine through the rshell process."""

from __future__ import annotations

from pathlib import Path

from tests.support.engine import EngineContainers
from tests.support.shell import run_rshell


def test_ps_json_lists_visible_containers_only(policy: Path, containers: EngineContainers) -> None:
    outcome = run_rshell(policy, "-c", "ps --all --json")
    assert outcome.status == 0, outcome.stderr
    names = {row["name"] for row in outcome.json()["containers"]}
    assert containers.name("app") in names
    assert containers.name("labelled") in names
    assert containers.name("stopped") in names
    assert containers.name("hidden") not in names
