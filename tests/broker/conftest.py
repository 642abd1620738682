"""The broker as production runs it: rshelld as root, the client as a real user outside the docker group."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.broker.harness import Agent, Broker, make_group, make_user, remove_account, remove_stale_accounts
from tests.support.engine import EngineContainers
from tests.support.shell import write_policy

#: accounts are named per session: several sessions (CI, a developer, a parallel run) may run this suite at once
TOKEN = secrets.token_hex(3)
AGENT_USER = f"rshtest-ba-{TOKEN}"
SOCKET_GROUP = f"rshtest-bs-{TOKEN}"
DAEMON_USER = f"rshtest-bd-{TOKEN}"
#: exits at once on SIGTERM, so a restart with a short stop timeout is quick
BOUNCE_SCRIPT = "trap 'exit 0' TERM; while true; do sleep 0.2; done"


def agent_role(*verbs: str, root_too: bool = False) -> str:
    """A policy body (for own_broker) in which the agent (and root, ``root_too``) may run ``verbs`` on
    the agent's test containers."""
    return (
        "principals:\n  users:\n    {user}: agent\n" + ("    root: agent\n" if root_too else "") + "roles:\n  agent:\n"
        f"    verbs: [{', '.join(verbs)}]\n"
        '    containers:\n      labels:\n        - rshtest.broker: "{prefix}-agent"\n'
    )


POLICY = """\
principals:
  users:
    {user}: agent
    root: operator
roles:
  agent:
    verbs: [ps, logs, restart]
    containers:
      labels:
        - rshtest.broker: "{prefix}-agent"
    limits:
      restart: {{count: 3, per: 10m}}
    settings:
      logs: {{max_lines: 500}}
      restart: {{stop_timeout: 1s, max_timeout: 30s}}
  operator:
    verbs: [ps, logs, restart]
    containers:
      labels:
        - rshtest.broker: "{prefix}-agent"
        - rshtest.broker: "{prefix}-root"
    settings:
      restart: {{stop_timeout: 1s, max_timeout: 30s}}
"""


@dataclass(frozen=True)
class Names:
    """This session's containers: the agent sees app, quiet and bounce; only root sees rootonly."""

    containers: EngineContainers

    @property
    def prefix(self) -> str:
        return self.containers.prefix

    @property
    def agent_labels(self) -> dict[str, str]:
        """Labels that make a container visible to the agent (and to root)."""
        return {"rshtest.broker": f"{self.prefix}-agent"}

    def name(self, suffix: str) -> str:
        return self.containers.name(suffix)


def policy_text(agent: Agent, prefix: str, body: str = POLICY) -> str:
    return body.format(user=agent.user, prefix=prefix)


@pytest.fixture(scope="session")
def agent() -> Iterator[Agent]:
    """A real system user (no home, nologin, password '*') whose only group is the socket's group."""
    remove_stale_accounts(("rshtest-bs-", "rshtest-bd-"))
    try:
        make_group(SOCKET_GROUP)
        make_user(AGENT_USER, SOCKET_GROUP)
        yield Agent(AGENT_USER, SOCKET_GROUP)
    finally:
        remove_account("user", AGENT_USER)
        remove_account("group", SOCKET_GROUP)


@pytest.fixture
def member_group(agent: Agent) -> Iterator[str]:
    """A group the agent belongs to in the user database (not its primary group), removed at the end."""
    name = f"rshtest-mg-{secrets.token_hex(3)}"
    make_group(name)
    try:
        subprocess.run(["gpasswd", "-a", agent.user, name], check=True, capture_output=True)
        yield name
    finally:
        remove_account("group", name)


@pytest.fixture(scope="session")
def daemon_user(agent: Agent) -> Iterator[Agent]:
    """rshelld's dedicated system user: its own group, plus docker (the engine) and the socket group."""
    try:
        make_group(DAEMON_USER)
        make_user(DAEMON_USER, DAEMON_USER, ("docker", agent.group))
        yield Agent(DAEMON_USER, DAEMON_USER)
    finally:
        remove_account("user", DAEMON_USER)
        remove_account("group", DAEMON_USER)


@pytest.fixture(scope="session")
def socket_dir() -> Iterator[Path]:
    """A root-owned 0755 directory under /tmp, so the agent can reach the socket (pytest's are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="rshell-broker-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def names(engine: Any) -> Iterator[Names]:
    made = EngineContainers(engine)
    names = Names(made)
    made.run("app", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done", labels=names.agent_labels)
    made.run("quiet", "echo quiet-ready; sleep 3600", labels=names.agent_labels)
    made.run("bounce", BOUNCE_SCRIPT, labels=names.agent_labels)
    made.run("rootonly", BOUNCE_SCRIPT, labels={"rshtest.broker": f"{made.prefix}-root"})
    made.run("hidden", "echo secret-hidden-output; sleep 3600")
    yield names
    made.remove_all()


@pytest.fixture(scope="session")
def broker_etc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The broker's policy, audit log and rate-limit state: root's alone, as in /etc and /var."""
    return tmp_path_factory.mktemp("broker") / "etc"


@pytest.fixture(scope="session")
def broker(agent: Agent, names: Names, socket_dir: Path, broker_etc: Path) -> Iterator[Broker]:
    """rshelld as root on SOCKET_GROUP's socket; stopped with SIGTERM at the end."""
    policy = write_policy(broker_etc, policy_text(agent, names.prefix))
    running = Broker(policy, socket_dir / "rshell.sock", agent.group, socket_dir / "rshelld.log")
    yield running
    assert running.stop() == 0, running.stderr()
    assert not running.socket.exists()


@contextlib.contextmanager
def own_broker(
    agent: Agent, names: Names, socket_dir: Path, etc: Path, *, body: str, name: str, options: tuple[str, ...] = ()
) -> Iterator[Broker]:
    """A broker of its own with policy ``body``, so that what a test does to it touches no other test."""
    policy = write_policy(etc, policy_text(agent, names.prefix, body))
    running = Broker(policy, socket_dir / f"{name}.sock", agent.group, socket_dir / f"{name}.log", options=options)
    try:
        yield running
    finally:
        running.stop()
