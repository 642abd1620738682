"""Swarm services through the broker, as a real unprivileged agent: a hidden service is never observable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import Names, own_broker
from tests.broker.harness import Agent, Broker, run_client
from tests.support.swarm import SwarmServices, join_or_init

#: the agent sees services labelled for it; root's policy line is the harness's own
BODY = """\
principals:
  users:
    {user}: agent
roles:
  agent:
    verbs: [ps, logs, restart]
    containers:
      labels:
        - rshtest.broker: "{prefix}-agent"
    services:
      labels:
        - rshtest.broker: "{prefix}-agent"
"""
HIDDEN = "no single service {text!r} is visible to you (none or several match, or the policy hides it)"


@pytest.fixture(scope="module")
def services(engine: Any, names: Names) -> Iterator[SwarmServices]:
    """A visible service and a hidden one on a swarm this module starts (and leaves) unless one is active."""
    initialised = join_or_init(engine)
    made = SwarmServices(engine)
    try:
        made.create("shown", "echo shown-line; exec sleep 3600", labels=names.agent_labels)
        made.create("secret", "echo secret-hidden-output; exec sleep 3600")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(_running(engine, service_id) for service_id in made.made):
                break
            time.sleep(0.25)
        yield made
    finally:
        made.remove_all()
        if initialised:
            engine.swarm.leave(force=True)


def _running(engine: Any, service_id: str) -> bool:
    tasks = engine.api.tasks(filters={"service": service_id, "desired-state": "running"})
    return any(task["Status"]["State"] == "running" for task in tasks)


@pytest.fixture
def swarm_broker(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=BODY, name="swarm") as running:
        yield running


def test_the_agent_sees_its_service_and_never_the_hidden_one(
    swarm_broker: Broker, agent: Agent, services: SwarmServices
) -> None:
    listing = run_client(agent, swarm_broker.socket, "-c", "ps --json")
    assert listing.status == 0, listing.stderr
    assert [row["name"] for row in listing.json()["services"]] == [services.name("shown")]
    logs = run_client(agent, swarm_broker.socket, "-c", f"logs --service {services.name('shown')}")
    assert logs.status == 0, logs.stderr
    assert logs.stdout.startswith(f"{services.name('shown')}.1.")
    assert logs.stdout.rstrip().endswith("| shown-line")


@pytest.mark.parametrize("form", ["name", "id", "prefix"])
def test_the_hidden_service_is_refused_to_the_agent_by_any_reference(
    swarm_broker: Broker, agent: Agent, services: SwarmServices, engine: Any, form: str
) -> None:
    secret_id = services.made[1]
    ref = {"name": services.name("secret"), "id": secret_id, "prefix": secret_id[:5]}[form]
    version = engine.api.inspect_service(secret_id)["Version"]["Index"]
    for line in (f"logs --service {ref}", f"restart --service {ref}", f"ps {ref}"):
        outcome = run_client(agent, swarm_broker.socket, "-c", line)
        assert (outcome.status, outcome.stderr.strip()) == (126, f"rshell: {HIDDEN.format(text=ref)}")
        assert "secret-hidden-output" not in outcome.stdout
    assert engine.api.inspect_service(secret_id)["Version"]["Index"] == version  # never updated
