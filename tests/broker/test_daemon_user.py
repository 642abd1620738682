"""The second documented deployment: rshelld as a dedicated system user in the docker group, not root."""

from __future__ import annotations

import grp
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker.conftest import Names, policy_text
from tests.broker.harness import Agent, Broker, run_client, wait_for
from tests.support.checks import success
from tests.support.shell import audit_records, write_policy

#: the daemon user's task limit in the flood test: far fewer threads than connections
THREAD_LIMIT = 24


def start(directory: Path, daemon: Agent, agent: Agent, names: Names, limits: tuple[str, ...] = ()) -> Broker:
    """rshelld as ``daemon``: the policy root-owned and readable by its group (0640), its audit log,
    state and socket in directories it owns, as the unit's LogsDirectory/StateDirectory/RuntimeDirectory make."""
    etc, var, run = directory / "etc", directory / "var", directory / "run"
    policy = write_policy(etc, policy_text(agent, names.prefix), mode=0o640)
    etc.chmod(0o755)
    for path, mode in ((var, 0o700), (run, 0o755)):
        path.mkdir(mode=mode)
        os.chown(path, daemon.uid, -1)
    policy.write_text(policy.read_text().replace(f"{etc}/", f"{var}/"))
    os.chown(policy, 0, grp.getgrnam(daemon.group).gr_gid)
    prefix = [*limits, *daemon.prefix()]
    return Broker(policy, run / "rshell.sock", agent.group, directory / "rshelld.log", prefix=prefix)


@pytest.fixture
def directory(socket_dir: Path, tmp_path: Path) -> Path:
    path = socket_dir / tmp_path.name
    path.mkdir(mode=0o755)
    return path


@pytest.fixture
def daemon_broker(directory: Path, daemon_user: Agent, agent: Agent, names: Names) -> Iterator[Broker]:
    running = start(directory, daemon_user, agent, names)
    yield running
    assert running.stop() == 0, running.stderr()


def test_a_broker_run_as_a_dedicated_user_serves_the_agent(
    daemon_broker: Broker, daemon_user: Agent, agent: Agent, names: Names, directory: Path
) -> None:
    assert os.stat(f"/proc/{daemon_broker.pid}").st_uid == daemon_user.uid
    info = daemon_broker.socket.stat()
    owner = (info.st_uid, info.st_gid, info.st_mode & 0o777)
    assert owner == (daemon_user.uid, grp.getgrnam(agent.group).gr_gid, 0o660)
    assert names.name("app") in success(run_client(agent, daemon_broker.socket, "-c", "ps")).stdout
    assert success(run_client(agent, daemon_broker.socket, "-c", "whoami --json")).json()["user"] == agent.user
    assert {record["user"] for record in audit_records(directory / "var")} == {agent.user}


def test_a_flood_past_the_thread_limit_costs_connections_not_the_broker(
    directory: Path, daemon_user: Agent, agent: Agent, names: Names
) -> None:
    broker = start(directory, daemon_user, agent, names, ("prlimit", f"--nproc={THREAD_LIMIT}", "--"))
    flood = []
    try:
        for _ in range(THREAD_LIMIT * 3):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(broker.socket))
            flood.append(sock)
        assert wait_for(lambda: "refusing a connection" in broker.stderr(), 10), broker.stderr()
        assert broker.process.poll() is None, broker.stderr()
        for sock in flood:
            sock.close()
        assert wait_for(lambda: broker.threads() < THREAD_LIMIT // 2, 10)
        assert names.name("app") in success(run_client(agent, broker.socket, "-c", "ps")).stdout
    finally:
        for sock in flood:
            sock.close()
        assert broker.stop() == 0, broker.stderr()
