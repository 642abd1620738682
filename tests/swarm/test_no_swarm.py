"""Off a swarm manager the service parts say so in one line and container verbs work as before.

This module sorts before the ones that start the session's swarm; with a swarm already active on
the engine there is nothing to observe here, and the tests say so by skipping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rshell.swarm.targets import NOT_A_MANAGER
from tests.support.engine import EngineContainers
from tests.support.shell import run_rshell, write_policy
from tests.support.swarm import swarm_state


@pytest.fixture
def no_swarm_policy(engine: Any, policy_dir: Path, containers: EngineContainers) -> Path:
    if swarm_state(engine)[0] != "inactive":
        pytest.skip("this engine is in a swarm now: the no-swarm answers cannot be observed")
    body = f"""\
        principals: {{users: {{root: operator}}}}
        roles:
          operator:
            verbs: [ps, logs, restart]
            containers: {{names: [{containers.name("app")}]}}
            services: {{names: [web]}}
        """
    return write_policy(policy_dir, body)


NO_SWARM_LINES = [  # (command line, exit code, what stderr says)
    ("ps web", 1, f"rshell: {NOT_A_MANAGER}"),
    ("logs --service web", 1, f"rshell: {NOT_A_MANAGER}"),
    ("restart --service web", 1, f"rshell: {NOT_A_MANAGER}"),
    ("logs web", 126, "rshell: no single container 'web' is visible to you"),
]


@pytest.mark.parametrize(("line", "status", "stderr"), NO_SWARM_LINES)
def test_service_arguments_off_a_manager_fail_in_one_line(
    no_swarm_policy: Path, line: str, status: int, stderr: str
) -> None:
    outcome = run_rshell(no_swarm_policy, "-c", line)
    assert outcome.status == status
    assert outcome.stderr.startswith(stderr)
    assert len(outcome.stderr.splitlines()) == 1


def test_ps_says_there_is_no_swarm_and_lists_containers(no_swarm_policy: Path, containers: EngineContainers) -> None:
    outcome = run_rshell(no_swarm_policy, "-c", "ps --json")
    assert outcome.status == 0, outcome.stderr
    assert outcome.json()["swarm"] == NOT_A_MANAGER
    assert [row["name"] for row in outcome.json()["containers"]] == [containers.name("app")]
    human = run_rshell(no_swarm_policy, "-c", "ps")
    assert human.stdout.splitlines()[-1] == NOT_A_MANAGER
    logs = run_rshell(no_swarm_policy, "-c", f"logs {containers.name('app')} --tail 1")
    assert (logs.status, logs.stdout.startswith("tick")) == (0, True)
