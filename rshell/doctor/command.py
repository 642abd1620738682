"""``rshellctl doctor``: run every check, print the findings, exit 0 only when nothing FAILs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rshell.doctor.account import Account, account_findings, find_account
from rshell.doctor.broker import broker_findings, unreachable_fix
from rshell.doctor.files import launcher_findings, policy_findings, socket_findings
from rshell.doctor.findings import Finding, fail, failed, ok, render_json, render_text
from rshell.doctor.options import DoctorOptions, parse_doctor_options
from rshell.doctor.sshd import authorized_key_files, effective_settings, sshd_findings
from rshell.errors import ExitStatus

DOCKER_SOCKET = "/var/run/docker.sock"
#: what the account may not be able to change under its home, besides the authorized keys files
HOME_FILES = (".ssh", ".ssh/rc", ".ssh/environment", ".pam_environment")


def doctor_program(argv: Sequence[str]) -> int:
    options = parse_doctor_options(argv)
    findings = run_checks(options)
    render = render_json if options.json else render_text
    sys.stdout.write(render(options.user, findings) + "\n")
    return ExitStatus.FAILED if failed(findings) else ExitStatus.OK


def run_checks(options: DoctorOptions) -> list[Finding]:
    account = find_account(options.user)
    if account is None:
        return [fail("user", f"no account {options.user!r}", f"rshellctl install-user {options.user}")]
    launcher = options.launcher or account.shell
    findings = account_findings(account, options.launcher, options.socket_group)
    launcher_found, python = launcher_findings(launcher)
    findings += launcher_found
    settings, error = effective_settings(options, account)
    key_files: list[Path] = []
    if settings is None:
        findings.append(fail("sshd", f"sshd -T failed: {error}", f"check {options.sshd_config} with sshd -t"))
    else:
        findings += sshd_findings(settings)
        key_files = authorized_key_files(settings, account)
    findings += policy_findings(options.policy, account)
    findings += socket_findings(options.socket, options.socket_group, account)
    findings += broker_findings(options.socket, options.policy)
    home_paths = [account.home, *(account.home / name for name in HOME_FILES), *key_files]
    findings += probe_findings(account, python, launcher, options, home_paths)
    return findings


def probe_findings(
    account: Account, python: Path | None, launcher: Path, options: DoctorOptions, home_paths: list[Path]
) -> list[Finding]:
    """Ask as the account itself (with the launcher's Python) what it can change and reach."""
    request = {
        "launcher": str(launcher),
        "socket": str(options.socket),
        "docker_socket": DOCKER_SOCKET,
        "home_paths": [str(path) for path in home_paths],
    }
    interpreter = python or Path(sys.executable)
    command = [
        "setpriv",
        f"--reuid={account.uid}",
        f"--regid={account.gid}",
        "--init-groups",
        str(interpreter),
        "-I",
        "-m",
        "rshell.doctor.probe",
        json.dumps(request),
    ]
    environment = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=30, check=False, env=environment, cwd="/"
        )
        answer: dict[str, Any] = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        detail = getattr(error, "stderr", None) or str(error)
        return [fail("probe", f"cannot run {interpreter} as {account.name}: {detail}", "reinstall the launcher's venv")]
    return _judge_probe(account, launcher, options, answer, launcher_checked=python is not None)


def _judge_probe(
    account: Account, launcher: Path, options: DoctorOptions, answer: dict[str, Any], *, launcher_checked: bool
) -> list[Finding]:
    findings: list[Finding] = []
    unsafe: list[str] = answer["launcher"]
    if unsafe:
        findings.append(
            fail(
                "launcher-isolated",
                f"{account.name} can change code the shell runs: {'; '.join(unsafe[:3])}",
                "chown -R root:root and chmod -R go-w those paths",
            )
        )
    elif launcher_checked:
        findings.append(ok("launcher-isolated", f"{account.name} cannot change the launcher, Python or rshell"))
    home: list[str] = answer["home"]
    if home:
        findings.append(
            fail(
                "home",
                f"{account.name} can change what sshd or PAM read: {'; '.join(home[:3])}",
                f"chown root:root {account.home} {account.home}/.ssh; chmod 0755 {account.home} {account.home}/.ssh",
            )
        )
    else:
        findings.append(
            ok("home", f"{account.name} cannot change its home, ~/.ssh, authorized keys or ~/.pam_environment")
        )
    if answer["docker"]:
        findings.append(
            fail("docker-socket", f"{account.name} can connect to {DOCKER_SOCKET}", f"gpasswd -d {account.name} docker")
        )
    else:
        findings.append(ok("docker-socket", f"{account.name} cannot connect to {DOCKER_SOCKET}"))
    findings.append(_broker(account, options, answer["broker"], answer.get("socket_access", [])))
    return findings


def _broker(account: Account, options: DoctorOptions, broker: dict[str, Any], access: list[dict[str, Any]]) -> Finding:
    status = broker.get("answer")
    if not isinstance(status, dict):
        return fail(
            "broker",
            f"the broker does not answer {account.name}: {broker.get('error')}",
            unreachable_fix(account, options.socket_group, access),
        )
    return ok(
        "broker",
        f"the broker answers {status.get('user')}: role {status.get('role') or 'none'}, engine {status.get('engine')}",
    )
