"""One broker per socket, and a socket the agent can reach whatever the umask: a second rshelld
refuses while the first answers, a stale socket is replaced, and unsafe directories are refused."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.broker.conftest import POLICY, Names, policy_text
from tests.broker.harness import RSHELLD, Agent, Broker, run_client
from tests.support.checks import success
from tests.support.shell import write_policy


def start_rshelld(policy: Path, sock: Path, group: str, *, umask: str = "0022") -> subprocess.CompletedProcess[str]:
    """rshelld run to completion (for the ones that must refuse to start)."""
    command = ["sh", "-c", f'umask {umask} && exec "$@"', "rshelld", *RSHELLD]
    command += ["--policy", str(policy), "--socket", str(sock), "--socket-group", group]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False, cwd="/")


@pytest.fixture
def policy(agent: Agent, names: Names, tmp_path: Path) -> Path:
    return write_policy(tmp_path / "etc", policy_text(agent, names.prefix, POLICY))


def test_a_second_broker_on_a_live_socket_refuses_and_the_first_keeps_serving(
    agent: Agent, names: Names, socket_dir: Path, policy: Path
) -> None:
    first = Broker(policy, socket_dir / "single.sock", agent.group, socket_dir / "single.log")
    try:
        second = start_rshelld(policy, first.socket, agent.group)
        assert second.returncode == 1, second.stderr
        assert second.stderr == f"rshelld: another rshelld is serving {first.socket} (pid {first.pid}); stop it first\n"
        assert names.name("app") in success(run_client(agent, first.socket, "-c", "ps")).stdout
    finally:
        assert first.stop() == 0, first.stderr()


def test_a_stale_socket_is_replaced(agent: Agent, names: Names, socket_dir: Path, policy: Path) -> None:
    stale = socket_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as left_behind:
        left_behind.bind(str(stale))  # bound, never listened on: what a killed broker leaves
    broker = Broker(policy, stale, agent.group, socket_dir / "stale.log")
    try:
        assert names.name("app") in success(run_client(agent, stale, "-c", "ps")).stdout
    finally:
        broker.stop()


def test_under_umask_0077_a_missing_socket_directory_is_made_0755_and_the_agent_gets_in(
    agent: Agent, names: Names, socket_dir: Path, policy: Path
) -> None:
    directory = socket_dir / "made-by-rshelld"
    shutil.rmtree(directory, ignore_errors=True)
    sock = directory / "rshell.sock"
    prefix = ["sh", "-c", 'umask 0077 && exec "$@"', "rshelld"]
    broker = Broker(policy, sock, agent.group, socket_dir / "umask.log", prefix=prefix)
    try:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755
        assert stat.S_IMODE(sock.stat().st_mode) == 0o660
        assert names.name("app") in success(run_client(agent, sock, "-c", "ps")).stdout
    finally:
        broker.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_an_existing_0700_directory_the_broker_owns_is_opened_to_0755(
    agent: Agent, names: Names, socket_dir: Path, policy: Path
) -> None:
    directory = socket_dir / "was-0700"
    directory.mkdir(mode=0o700, exist_ok=True)
    directory.chmod(0o700)
    broker = Broker(policy, directory / "rshell.sock", agent.group, socket_dir / "was0700.log")
    try:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755
        assert names.name("app") in success(run_client(agent, broker.socket, "-c", "ps")).stdout
    finally:
        broker.stop()


def _owned_by_agent(directory: Path, agent: Agent) -> str:
    directory.mkdir(mode=0o755)
    os.chown(directory, agent.uid, -1)
    return f"{directory} is owned by uid {agent.uid}, not by the broker (uid 0): chown 0 {directory} && chmod 0755"


def _writable_by_others(directory: Path, _agent: Agent) -> str:
    directory.mkdir()
    directory.chmod(0o1777)
    return f"{directory} is writable by others (mode 1777): chmod 0755 {directory}"


def _not_a_directory(directory: Path, _agent: Agent) -> str:
    directory.write_text("")
    return f"{directory} is not a directory"


def _not_a_socket(directory: Path, _agent: Agent) -> str:
    directory.mkdir(mode=0o755)
    (directory / "rshell.sock").write_text("")
    return f"{directory / 'rshell.sock'} exists and is not a socket; refusing to replace it"


#: each unsafe place for the socket, and the start of the one line (exit 2) that says how to fix it
UNSAFE: list[tuple[str, Callable[[Path, Agent], str]]] = [
    ("owned by another user", _owned_by_agent),
    ("writable by others", _writable_by_others),
    ("a file, not a directory", _not_a_directory),
    ("a file where the socket goes", _not_a_socket),
]


@pytest.mark.parametrize(("case", "arrange"), UNSAFE, ids=[case for case, _ in UNSAFE])
def test_an_unsafe_socket_directory_is_refused_with_its_fix(
    case: str, arrange: Callable[[Path, Agent], str], agent: Agent, socket_dir: Path, policy: Path
) -> None:
    directory = socket_dir / f"unsafe-{UNSAFE.index((case, arrange))}"
    try:
        expected = arrange(directory, agent)
        done = start_rshelld(policy, directory / "rshell.sock", agent.group)
        assert done.returncode == 2, (case, done.stderr)
        assert done.stderr.startswith(f"rshelld: {expected}"), (case, done.stderr)
        assert done.stderr.count("\n") == 1, done.stderr
    finally:
        if directory.is_dir():
            shutil.rmtree(directory, ignore_errors=True)
        else:
            directory.unlink(missing_ok=True)
