"""``rshellctl doctor`` on the live test deployment: all ok, then FAIL on each deliberately broken copy."""

from __future__ import annotations

import contextlib
import grp
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.deployment import DROP_IN, USER, Deployment, free_port, sshd_config

Breakage = Callable[[Deployment], contextlib.AbstractContextManager[list[str]]]


def doctor(deployment: Deployment, *extra: str) -> tuple[int, dict[str, Any]]:
    command = [sys.executable, "-I", "-m", "rshell.ctl", "doctor", "--user", USER, "--json"]
    command += ["--policy", str(deployment.policy), "--socket", str(deployment.socket)]
    command += ["--sshd-config", str(deployment.sshd.config), *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.stderr == "", done.stderr
    return done.returncode, json.loads(done.stdout)


def failures(report: dict[str, Any]) -> list[str]:
    return [finding["check"] for finding in report["findings"] if finding["status"] == "FAIL"]


def test_doctor_passes_the_test_deployment(deployment: Deployment) -> None:
    status, report = doctor(deployment)
    assert failures(report) == [], json.dumps(report, indent=2)
    assert status == 0
    assert report["ok"] is True
    checks = {finding["check"]: finding["status"] for finding in report["findings"]}
    for check in ("docker-group", "login-shell", "launcher", "launcher-isolated", "sshd-forcecommand"):
        assert checks[check] == "ok", report
    for check in ("sshd-forwarding", "sshd-acceptenv", "policy-file", "broker-socket", "broker", "home"):
        assert checks[check] == "ok", report


def test_doctor_text_output(deployment: Deployment) -> None:
    command = [sys.executable, "-I", "-m", "rshell.ctl", "doctor", "--user", USER, "--policy", str(deployment.policy)]
    command += ["--socket", str(deployment.socket), "--sshd-config", str(deployment.sshd.config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[0].startswith("ok    user: ")
    assert done.stdout.rstrip().endswith("no failures")


@contextlib.contextmanager
def in_docker_group(deployment: Deployment) -> Iterator[list[str]]:
    subprocess.run(["gpasswd", "-a", USER, "docker"], check=True, capture_output=True)
    try:
        assert USER in grp.getgrnam("docker").gr_mem
        yield []
    finally:
        subprocess.run(["gpasswd", "-d", USER, "docker"], check=False, capture_output=True)
        assert USER not in grp.getgrnam("docker").gr_mem


@contextlib.contextmanager
def policy_mode_666(deployment: Deployment) -> Iterator[list[str]]:
    deployment.policy.chmod(0o666)
    try:
        yield []
    finally:
        deployment.policy.chmod(0o600)


@contextlib.contextmanager
def home_owned_by_agent(deployment: Deployment) -> Iterator[list[str]]:
    os.chown(deployment.home, deployment.uid, -1)
    try:
        yield []
    finally:
        os.chown(deployment.home, 0, -1)


@contextlib.contextmanager
def launcher_group_writable(deployment: Deployment) -> Iterator[list[str]]:
    deployment.launcher.chmod(0o775)
    try:
        yield []
    finally:
        deployment.launcher.chmod(0o755)


def variant_config(
    deployment: Deployment, name: str, edit: Callable[[str], str], *, head: str = "", tail: str = ""
) -> list[str]:
    """An sshd config like the test's, including an edited copy of the drop-in; doctor's options for it."""
    drop_in = deployment.base / f"rshell.{name}.conf"
    drop_in.write_text(edit(DROP_IN.read_text()))
    config = sshd_config(deployment.base, f"doctor-{name}", free_port(), head=head, include=drop_in, tail=tail)
    return ["--sshd-config", str(config)]


@contextlib.contextmanager
def forwarding_enabled(deployment: Deployment) -> Iterator[list[str]]:
    def edit(text: str) -> str:
        return text.replace("DisableForwarding yes", "DisableForwarding no").replace(
            "AllowTcpForwarding no", "AllowTcpForwarding yes"
        )

    yield variant_config(deployment, "forwarding", edit)


@contextlib.contextmanager
def internal_sftp_without_forcecommand(deployment: Deployment) -> Iterator[list[str]]:
    def edit(text: str) -> str:
        return "".join(line + "\n" for line in text.splitlines() if "ForceCommand" not in line)

    yield variant_config(deployment, "noforce", edit, tail="Subsystem sftp internal-sftp")


@contextlib.contextmanager
def loader_variables_accepted(deployment: Deployment) -> Iterator[list[str]]:
    yield variant_config(deployment, "acceptenv", lambda text: text.replace("AcceptEnv TERM", "AcceptEnv TERM LD_*"))


@contextlib.contextmanager
def user_environment_permitted(deployment: Deployment) -> Iterator[list[str]]:
    yield variant_config(deployment, "userenv", lambda text: text, head="PermitUserEnvironment yes\n")


BREAKAGES: list[tuple[Breakage, set[str]]] = [
    (in_docker_group, {"docker-group", "docker-socket"}),
    (policy_mode_666, {"policy-file"}),
    (home_owned_by_agent, {"home"}),
    (launcher_group_writable, {"launcher"}),
    (forwarding_enabled, {"sshd-forwarding"}),
    (internal_sftp_without_forcecommand, {"sshd-forcecommand"}),
    (loader_variables_accepted, {"sshd-acceptenv"}),
    (user_environment_permitted, {"sshd-permituserenvironment"}),
]


@pytest.mark.parametrize(("breakage", "expected"), BREAKAGES, ids=[b.__name__ for b, _ in BREAKAGES])
def test_doctor_fails_a_broken_deployment(deployment: Deployment, breakage: Breakage, expected: set[str]) -> None:
    with breakage(deployment) as options:
        status, report = doctor(deployment, *options)
    assert status == 1
    assert report["ok"] is False
    assert set(failures(report)) == expected, json.dumps(report, indent=2)
    assert all(f["fix"] for f in report["findings"] if f["status"] == "FAIL")


def test_doctor_without_the_account(deployment: Deployment) -> None:
    status, report = doctor(deployment, "--user", "rshtest-nobody-here")
    assert status == 1
    assert failures(report) == ["user"]


def test_install_user_refuses_a_docker_member(deployment: Deployment) -> None:
    scratch = deployment.base / "scratch-launcher"  # should the refusal fail, the real launcher stays as it is
    command = [sys.executable, "-I", "-m", "rshell.ctl", "install-user", USER, "--launcher", str(scratch)]
    command += ["--socket", str(deployment.socket), "--home", str(deployment.home)]
    with in_docker_group(deployment):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert not scratch.exists()
    assert done.returncode == 1
    assert "docker group" in done.stderr
    assert done.stdout == ""


def test_launcher_refuses_files_the_agent_can_change(deployment: Deployment, tmp_path: Path) -> None:
    """The launcher's own check, without sshd: a copy in a directory the agent owns refuses to start."""
    from rshell.launcher import render_launcher

    directory = deployment.dropbox / "bin"
    directory.mkdir()
    try:
        copy = directory / "rshell-login"
        copy.write_text(render_launcher(Path(sys.executable), copy, deployment.socket))
        copy.chmod(0o755)
        outcome = _as_agent([str(copy), "-c", "ps"])
        assert outcome.returncode == 1
        assert f"refusing to start: {deployment.dropbox} is owned by you" in outcome.stderr
        assert outcome.stdout == ""
    finally:
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()


@pytest.mark.parametrize("arguments", [["--local", "-c", "ps"], ["--policy", "/tmp/p.yaml"], ["-c"], ["-c", "ps", "x"]])
def test_launcher_accepts_only_what_sshd_passes(deployment: Deployment, arguments: list[str]) -> None:
    outcome = _as_agent([str(deployment.launcher), *arguments])
    assert outcome.returncode == 2
    assert outcome.stderr == "rshell: usage: rshell-login [-c COMMAND]\n"


def _as_agent(command: list[str]) -> subprocess.CompletedProcess[str]:
    prefix = ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups"]
    return subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=30, check=False, cwd="/")
