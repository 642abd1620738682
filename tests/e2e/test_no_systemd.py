"""rshelld started exactly as README "Hosts without systemd" says, under umask 0077: the agent reaches
it, the kernel shows the hardening, and doctor names the directory to fix when the agent cannot."""

from __future__ import annotations

import contextlib
import grp
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rshell.doctor.broker import broker_pid, process_status
from tests.broker.commandbroker import command_broker, venv_without_extras
from tests.e2e.deployment import GROUP, REPO, USER, Deployment, as_agent

PYTHON = Path(sys.executable)


def readme_block() -> str:
    """The first sh block of the README's "Hosts without systemd" section."""
    text = (REPO / "README.md").read_text()
    section = text.split("### Hosts without systemd", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


def localised(block: str, base: Path, policy: Path) -> str:
    """The block with its system paths moved under ``base`` (and the test venv's rshelld); the doctor
    line is left out (the test runs doctor itself, with --json)."""
    replacements = {
        "/opt/rshell/bin/rshelld": str(PYTHON.parent / "rshelld"),
        "/etc/rshell/policy.yaml": str(policy),
        "/run/rshell": str(base / "run" / "rshell"),
        "/var/log/rshell": str(base / "log"),
        "/var/lib/rshell": str(base / "lib"),
    }
    for system, local in replacements.items():
        assert system in block, system
        block = block.replace(system, local)
    return "".join(line + "\n" for line in block.splitlines() if not line.startswith("rshellctl "))


@dataclass(frozen=True)
class Started:
    socket: Path
    pid: int


@pytest.fixture
def readme_broker(deployment: Deployment) -> Iterator[Started]:
    base = Path(tempfile.mkdtemp(prefix="rshell-nosystemd-", dir="/tmp"))
    base.chmod(0o755)
    (base / "run").mkdir(mode=0o755)
    script = localised(readme_block(), base, deployment.policy)
    socket_path = base / "run" / "rshell" / "rshell.sock"
    done = subprocess.run(
        ["bash", "-c", f"umask 0077\nset -e\n{script}"], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    pid = _wait_for_broker(socket_path, base / "log" / "rshelld.log")
    try:
        yield Started(socket_path, pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # the broker this fixture started, by its pid
        _wait_gone(pid)
        shutil.rmtree(base, ignore_errors=True)


def _wait_for_broker(socket_path: Path, log: Path) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pid = broker_pid(socket_path) if socket_path.exists() else None
        if pid:
            return pid
        time.sleep(0.05)
    raise AssertionError(f"rshelld did not start: {log.read_text() if log.exists() else 'no log'}")


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def doctor(deployment: Deployment, socket_path: Path) -> dict[str, Any]:
    command = [str(PYTHON), "-I", "-m", "rshell.ctl", "doctor", "--user", USER, "--json"]
    command += ["--policy", str(deployment.policy), "--socket", str(socket_path)]
    command += ["--sshd-config", str(deployment.sshd.config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    report: dict[str, Any] = json.loads(done.stdout)
    return {finding["check"]: finding for finding in report["findings"]}


def test_the_readme_line_under_umask_0077_gives_the_agent_a_reachable_socket(readme_broker: Started) -> None:
    directory, sock = os.stat(readme_broker.socket.parent), os.stat(readme_broker.socket)
    assert stat.S_IMODE(directory.st_mode) == 0o755
    assert (stat.S_IMODE(sock.st_mode), grp.getgrgid(sock.st_gid).gr_name) == (0o660, GROUP)

    outcome = as_agent(
        [str(PYTHON), "-I", "-m", "rshell.cli", "--broker", str(readme_broker.socket), "-c", "whoami --json"]
    )

    assert outcome.status == 0, outcome.stderr
    assert json.loads(outcome.stdout)["user"] == USER


def test_the_readme_line_gives_the_hardening_the_unit_gives(readme_broker: Started, deployment: Deployment) -> None:
    status = process_status(readme_broker.pid)
    assert status["NoNewPrivs"] == "1"
    assert int(status["CapEff"], 16) == 1  # CAP_CHOWN only
    assert int(status["CapBnd"], 16) == 1

    findings = doctor(deployment, readme_broker.socket)

    assert findings["broker-process"]["status"] == "ok", findings["broker-process"]
    assert f"rshelld pid {readme_broker.pid}: euid 0 (root), CapEff" in findings["broker-process"]["message"]
    assert "(chown), NoNewPrivs 1" in findings["broker-process"]["message"]
    assert findings["broker"]["status"] == "ok"
    assert findings["broker-dependencies"]["status"] == "ok"


def test_doctor_names_the_directory_the_agent_cannot_pass(readme_broker: Started, deployment: Deployment) -> None:
    directory = readme_broker.socket.parent
    directory.chmod(0o700)  # what a umask of 0077 made of it before rshelld set the mode itself
    try:
        findings = doctor(deployment, readme_broker.socket)
    finally:
        directory.chmod(0o755)

    assert findings["broker"]["status"] == "FAIL"
    fix = findings["broker"]["fix"]
    assert fix.startswith(f"{directory} is 0700 root:root; {USER} needs x on it: chmod 0755 {directory}"), fix


def test_doctor_warns_about_a_broker_without_the_hardening(deployment: Deployment) -> None:
    """The deployment's own broker is started plainly, as root with every capability."""
    findings = doctor(deployment, deployment.socket)

    warning = findings["broker-process"]
    assert warning["status"] == "warn"
    assert "euid 0 (root)" in warning["message"]
    assert "), NoNewPrivs 0: more than the unit allows" in warning["message"]
    assert "setpriv --no-new-privs" in warning["fix"]


@pytest.fixture(scope="module")
def python_without_mcp() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="rshell-no-extras-", dir="/tmp"))
    try:
        yield venv_without_extras(directory / "venv")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_doctor_fails_a_broker_whose_python_cannot_import_mcp(
    deployment: Deployment, python_without_mcp: Path, tmp_path: Path
) -> None:
    """The policy lists mcp; the running broker's own interpreter (from /proc) lacks the SDK."""
    directory = Path(tempfile.mkdtemp(prefix="rshell-nomcp-", dir="/tmp"))
    directory.chmod(0o755)
    sock = directory / "rshell.sock"
    command = [str(python_without_mcp), "-I", "-m", "rshell.broker.server", "--policy", str(deployment.policy)]
    command += ["--socket", str(sock), "--socket-group", GROUP]
    try:
        with command_broker(command, sock, tmp_path / "rshelld.log"):
            findings = doctor(deployment, sock)
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    failure = findings["broker-dependencies"]
    assert failure["status"] == "FAIL"
    assert f"verb mcp needs rshell.mcp.server, which {python_without_mcp} cannot import" in failure["message"]
    assert "No module named" in failure["message"]
    assert "scripts/install" in failure["fix"]
