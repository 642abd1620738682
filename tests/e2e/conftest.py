"""One throwaway deployment per session: the account made by ``rshellctl install-user``, rshelld on a
socket of group ``rshell``, and sshd on a loopback port including deploy/sshd_config.d/rshell.conf."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.deployment import (
    DROP_IN,
    GROUP,
    SSHD,
    USER,
    Deployment,
    Sshd,
    free_port,
    remove_account,
    remove_shells_line,
    remove_stale_accounts,
    sshd_config,
)
from tests.support.engine import EngineContainers
from tests.support.shell import write_policy

POLICY = """\
principals:
  users:
    {user}: agent
roles:
  agent:
    verbs: [ps, logs, restart, mcp]
    containers:
      names: [{web}]
    limits:
      restart: {{count: 5, per: 10m}}
    settings:
      logs: {{max_lines: 100}}
      restart: {{stop_timeout: 1s, max_timeout: 30s}}
"""
#: exits at once on SIGTERM, so a restart with a short stop timeout is quick
WEB_SCRIPT = "trap 'exit 0' TERM; seq 1 50; while true; do sleep 0.2; done"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not SSHD.exists() or shutil.which("ssh") is None:
        skip = pytest.mark.skip(reason="needs openssh-server and openssh-client (scripts/test installs them)")
        for item in items:
            if "tests/e2e" in str(item.fspath) and "nixos" not in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def deployment(engine: Any) -> Iterator[Deployment]:
    if os.geteuid() != 0:
        pytest.fail("the end-to-end tests create an account and start sshd: run them as root")
    base = Path(tempfile.mkdtemp(prefix="rshell-e2e-", dir="/tmp"))
    base.chmod(0o755)
    remove_stale_accounts()
    containers = EngineContainers(engine)
    processes: list[Sshd | subprocess.Popen[bytes]] = []
    launcher = base / "bin" / "rshell-login"
    try:
        yield _deploy(base, containers, launcher, processes)
    finally:
        for process in reversed(processes):
            if isinstance(process, Sshd):
                process.stop()
            else:
                process.terminate()
                process.wait(10)
        containers.remove_all()
        remove_account(USER)
        remove_shells_line(str(launcher))
        shutil.rmtree(base, ignore_errors=True)


def _deploy(
    base: Path, containers: EngineContainers, launcher: Path, processes: list[Sshd | subprocess.Popen[bytes]]
) -> Deployment:
    keys = base / "keys"
    keys.mkdir(mode=0o700)
    for name in ("ssh_host_ed25519_key", "keys/client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)], check=True)
    web, hidden = containers.run("web", WEB_SCRIPT), containers.run("hidden", "sleep 3600")
    socket_path = base / "run" / "rshell.sock"
    install = [sys.executable, "-I", "-m", "rshell.ctl", "install-user", USER, "--socket-group", GROUP]
    install += ["--launcher", str(launcher), "--python", sys.executable, "--socket", str(socket_path)]
    install += ["--home", str(base / "home" / USER), "--authorized-key", str(keys / "client.pub")]
    subprocess.run(install, check=True, capture_output=True)
    policy = write_policy(base / "etc", POLICY.format(user=USER, web=web.name))
    broker = [sys.executable, "-I", "-m", "rshell.broker.server", "--policy", str(policy)]
    broker += ["--socket", str(socket_path), "--socket-group", GROUP]
    processes.append(subprocess.Popen(broker, stderr=(base / "rshelld.log").open("wb")))
    _wait_for(socket_path)
    port = free_port()
    sshd = Sshd.start(sshd_config(base, "main", port), port)
    processes.append(sshd)
    dropbox, payload = base / "dropbox", base / "payload"
    dropbox.mkdir(mode=0o755)
    os.chown(dropbox, _uid(USER), -1)
    payload.mkdir(mode=0o755)
    return Deployment(
        base, keys / "client", sshd, launcher, socket_path, policy, web.name, hidden.name, dropbox, payload
    )


@pytest.fixture(scope="session")
def variant_sshd(deployment: Deployment) -> Iterator[dict[str, Sshd]]:
    """More sshds for the same account: ``internal-sftp`` (the real drop-in, Subsystem sftp internal-sftp),
    and two controls that show what the drop-in prevents: ``no-forcecommand`` (internal-sftp, and the
    drop-in without its ForceCommand line) and ``user-environment`` (PermitUserEnvironment yes set first)."""
    base = deployment.base
    unforced = base / "rshell-no-forcecommand.conf"
    unforced.write_text("".join(f"{line}\n" for line in DROP_IN.read_text().splitlines() if "ForceCommand" not in line))
    internal = "Subsystem sftp internal-sftp"
    ports = {name: free_port() for name in ("internal-sftp", "no-forcecommand", "user-environment")}
    configs = {
        "internal-sftp": sshd_config(base, "internal-sftp", ports["internal-sftp"], tail=internal),
        "no-forcecommand": sshd_config(base, "no-fc", ports["no-forcecommand"], tail=internal, include=unforced),
        "user-environment": sshd_config(base, "userenv", ports["user-environment"], head="PermitUserEnvironment yes\n"),
    }
    started: dict[str, Sshd] = {}
    try:
        for name, config in configs.items():
            started[name] = Sshd.start(config, ports[name])
        yield started
    finally:
        for sshd in started.values():
            sshd.stop()


def _wait_for(path: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)


def _uid(name: str) -> int:
    return pwd.getpwnam(name).pw_uid
