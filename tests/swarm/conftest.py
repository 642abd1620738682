"""One single-node swarm per test session, with visible, labelled, hidden and fragile services."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import EngineContainers
from tests.support.shell import write_policy
from tests.support.swarm import SwarmServices, join_or_init

#: how long the session's services may take to have their tasks running
READY_SECONDS = 90.0
#: the fragile service fails after an update once this file exists in its state directory
BROKEN_FLAG = "broken"


@dataclass
class Swarm:
    services: SwarmServices
    containers: EngineContainers
    state_dir: Path
    ids: dict[str, str]


def _wait_running(client: Any, service_ids: dict[str, str], replicas: dict[str, int]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        ready = True
        for suffix, service_id in service_ids.items():
            tasks = client.api.tasks(filters={"service": service_id, "desired-state": "running"})
            running = [task for task in tasks if task["Status"]["State"] == "running"]
            ready = ready and len(running) == replicas[suffix]
        if ready:
            return
        time.sleep(0.25)
    pytest.fail("the swarm services did not start within the deadline")


@pytest.fixture(scope="session")
def swarm(engine: Any) -> Iterator[Swarm]:
    """web (2 replicas, by name; a container of the same name exists), labelled (by label), hidden, fragile."""
    initialised = join_or_init(engine)
    services = SwarmServices(engine)
    containers = EngineContainers(engine, prefix=services.prefix)
    state_dir = Path(tempfile.mkdtemp(prefix="rshell-swarm-"))
    try:
        containers.run("web", "echo container-web-output; sleep 3600")
        replicas = {"web": 2, "labelled": 1, "hidden": 1, "fragile": 1}
        ids = {
            "web": services.create(
                "web", r"printf 'web-line\033[31m-red\033]0;title\007\n'; exec sleep 3600", replicas=2
            ),
            "labelled": services.create(
                "labelled", "echo labelled-line; exec sleep 3600", labels={"rshell.visible": "true"}
            ),
            "hidden": services.create("hidden", "echo secret-hidden-output; exec sleep 3600"),
            "fragile": services.create(
                "fragile",
                f"test -e /state/{BROKEN_FLAG} && exit 1; exec sleep 3600",
                mounts=[f"{state_dir}:/state:ro"],
                monitor_seconds=2,
            ),
        }
        _wait_running(engine, ids, replicas)
        yield Swarm(services, containers, state_dir, ids)
    finally:
        services.remove_all()
        containers.remove_all()
        shutil.rmtree(state_dir, ignore_errors=True)
        if initialised:
            engine.swarm.leave(force=True)


@pytest.fixture
def swarm_policy(policy_dir: Path, swarm: Swarm) -> Path:
    """root: ps, logs, restart; sees the container web, services web and fragile by name, and labelled by label."""
    web, fragile = swarm.services.name("web"), swarm.services.name("fragile")
    body = f"""\
        principals:
          users:
            root: operator
        roles:
          operator:
            verbs: [ps, logs, restart]
            containers:
              names: [{web}]
            services:
              names: [{web}, {fragile}]
              labels:
                - rshell.visible: "true"
            limits:
              restart: {{count: 1, per: 10m}}
            settings:
              logs: {{max_lines: 50}}
              restart: {{max_timeout: 60s}}
        """
    return write_policy(policy_dir, body)
