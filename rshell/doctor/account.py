"""The account: it exists, is not in the docker group, may reach the broker, and logs in to the launcher."""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from rshell.doctor.findings import Finding, fail, ok, warn

SHELLS = Path("/etc/shells")
SHADOW = Path("/etc/shadow")
DOCKER_GROUP = "docker"


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: Path
    shell: Path
    groups: frozenset[str]


def find_account(name: str) -> Account | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    names = set()
    for gid in os.getgrouplist(name, entry.pw_gid):
        try:
            names.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            names.add(f"gid:{gid}")
    return Account(name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir), Path(entry.pw_shell), frozenset(names))


def account_findings(account: Account, launcher: Path | None, socket_group: str) -> list[Finding]:
    """``launcher`` None: no --launcher was given, so the login shell is checked as the launcher itself."""
    return [
        ok("user", f"{account.name} exists (uid {account.uid}, home {account.home})"),
        _docker_group(account),
        _socket_group(account, socket_group),
        _login_shell(account, launcher),
        _listed_shell(launcher or account.shell),
        _password(account),
    ]


def _docker_group(account: Account) -> Finding:
    if DOCKER_GROUP in account.groups:
        return fail(
            "docker-group",
            f"{account.name} is in the {DOCKER_GROUP} group: it can reach the Docker socket and become root",
            f"gpasswd -d {account.name} {DOCKER_GROUP}",
        )
    return ok("docker-group", f"{account.name} is not in the {DOCKER_GROUP} group")


def _socket_group(account: Account, group: str) -> Finding:
    if group in account.groups:
        return ok("socket-group", f"{account.name} is in {group}, the broker socket's group")
    return fail(
        "socket-group",
        f"{account.name} is not in {group}: it cannot reach the broker, and sshd's 'Match Group {group}' misses it",
        f"gpasswd -a {account.name} {group}",
    )


def _login_shell(account: Account, launcher: Path | None) -> Finding:
    if launcher is None:
        return ok("login-shell", f"login shell is {account.shell} (checked as the launcher below)")
    if account.shell == launcher:
        return ok("login-shell", f"login shell is the launcher {launcher}")
    return fail(
        "login-shell",
        f"login shell is {account.shell}, not the launcher {launcher}",
        f"usermod --shell {launcher} {account.name}",
    )


def _listed_shell(launcher: Path) -> Finding:
    try:
        listed = str(launcher) in (line.strip() for line in SHELLS.read_text().splitlines())
    except OSError:
        listed = False
    if listed:
        return ok("etc-shells", f"{launcher} is listed in {SHELLS}")
    return warn(
        "etc-shells",
        f"{launcher} is not listed in {SHELLS}: PAM's pam_shells and some tools refuse such accounts",
        f"echo {launcher} >> {SHELLS}",
    )


def _password(account: Account) -> Finding:
    try:
        lines = SHADOW.read_text().splitlines()
    except OSError:
        return warn("password", f"cannot read {SHADOW} to check the password field", "run rshellctl doctor as root")
    field = next((line.split(":")[1] for line in lines if line.split(":")[0] == account.name), "")
    if field.startswith("!"):
        return warn(
            "password",
            "the password field is locked ('!'): sshd without PAM refuses the account even with a key",
            f"usermod -p '*' {account.name}",
        )
    if field == "":
        return fail(
            "password", "the password field is empty: anyone may log in without one", f"usermod -p '*' {account.name}"
        )
    if field != "*":
        return warn(
            "password", "the account has a password: agents log in with keys only", f"usermod -p '*' {account.name}"
        )
    return ok("password", "no password ('*'): key login only")
