"""Ctrl-C in the agent's client ends the broker's restart while dockerd is still waiting on a
container that ignores SIGTERM (stop_timeout 30 s): 130 at once, and the broker's ``done`` record
says 130 (a real broker, the agent a real unprivileged user)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rshell.errors import ExitStatus
from tests.broker.conftest import Names, own_broker
from tests.broker.harness import RSHELL, Agent, Broker, wait_for
from tests.support.shell import audit_records
from tests.test_restart_cancel import BOUND, DEAF

POLICY = """\
principals:
  users:
    {user}: operator
roles:
  operator:
    verbs: [restart]
    containers:
      labels:
        - rshtest.broker: "{prefix}-agent"
    settings:
      restart: {{stop_timeout: 30s, max_timeout: 60s}}
"""


@pytest.fixture
def restart_broker(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=POLICY, name="restart-cancel") as running:
        yield running


@pytest.fixture
def deaf(names: Names) -> Iterator[Any]:
    container = names.containers.run(f"deaf{time.monotonic_ns()}", DEAF, labels=names.agent_labels)
    try:
        yield container
    finally:
        container.remove(force=True)


def test_ctrl_c_ends_the_brokers_restart_during_a_slow_stop(restart_broker: Broker, agent: Agent, deaf: Any) -> None:
    command = [*agent.prefix(), *RSHELL, "--broker", str(restart_broker.socket), "-c", f"restart {deaf.name}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    try:
        assert process.stderr is not None
        assert process.stderr.readline() == f"restarting {deaf.name} ...\n".encode()
        time.sleep(0.5)  # the restart request is with the engine now
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=BOUND)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert process.returncode == ExitStatus.INTERRUPTED, stderr
    etc = restart_broker.policy.parent
    assert wait_for(lambda: [r["phase"] for r in audit_records(etc)] == ["intent", "done"], BOUND)
    intent, done = audit_records(etc)
    assert (done["exit_code"], done["action"]) == (130, intent["action"])
    assert restart_broker.process.poll() is None
