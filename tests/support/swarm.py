"""A single-node swarm for the tests, left as found: initialised (and left) only if it was not active."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import docker
from docker import types as docker_types

from tests.support.engine import IMAGE

SECOND = 1_000_000_000  # the engine's durations are nanoseconds


def swarm_state(client: Any) -> tuple[str, bool]:
    info = client.info().get("Swarm") or {}
    return str(info.get("LocalNodeState", "")), bool(info.get("ControlAvailable"))


def join_or_init(client: Any) -> bool:
    """Make this engine a swarm manager if it is in no swarm; True when this call initialised it."""
    state, manager = swarm_state(client)
    if state == "active":
        if not manager:
            raise RuntimeError("this engine is a swarm worker: the swarm tests need a manager")
        return False
    try:
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    except docker.errors.APIError as error:
        if "already part of a swarm" in str(error):  # another test process got there first: not ours to leave
            return False
        raise
    return True


@dataclass
class SwarmServices:
    """Services made for one test session, named with a random prefix and removed at the end."""

    client: Any
    prefix: str = field(default_factory=lambda: f"rsw{secrets.token_hex(3)}")
    made: list[str] = field(default_factory=list)

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def create(
        self,
        suffix: str,
        script: str,
        *,
        replicas: int = 1,
        labels: Mapping[str, str] | None = None,
        mounts: Sequence[str] = (),
        monitor_seconds: int = 1,
    ) -> str:
        """A replicated service running ``sh -c script`` from the test image; its ID."""
        spec = docker_types.ContainerSpec(
            IMAGE, ["sh", "-c", script], mounts=list(mounts), stop_grace_period=SECOND // 2
        )
        template = docker_types.TaskTemplate(spec, restart_policy=docker_types.RestartPolicy(condition="none"))
        update = docker_types.UpdateConfig(
            parallelism=0, monitor=monitor_seconds * SECOND, failure_action="pause", max_failure_ratio=0
        )
        service_id = self.client.api.create_service(
            template,
            name=self.name(suffix),
            labels=dict(labels or {}),
            mode=docker_types.ServiceMode("replicated", replicas=replicas),
            update_config=update,
        )["ID"]
        self.made.append(service_id)
        return str(service_id)

    def remove_all(self) -> None:
        for service_id in self.made:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.api.remove_service(service_id)
