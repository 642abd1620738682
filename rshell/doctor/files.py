"""Root's files: the launcher script, the policy and the broker socket, by owner and mode."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from rshell.doctor.account import Account
from rshell.doctor.findings import Finding, fail, ok, warn
from rshell.errors import PolicyError
from rshell.launcher import LOGIN_CODE, launcher_command
from rshell.policy.filecheck import check_policy_file
from rshell.policy.loader import load_policy
from rshell.policy.view import Principal, view_for
from rshell.registry import Registry


def launcher_findings(launcher: Path) -> tuple[list[Finding], Path | None]:
    """The launcher is root's, runs ``env -i ... PYTHON -I -c LOGIN_CODE``; returns that PYTHON."""
    fix = f"rshellctl install-user NAME writes it again; chown root:root {launcher}; chmod 0755 {launcher}"
    try:
        info = os.stat(launcher)
        words = launcher_command(launcher.read_text())
    except OSError as error:
        return [fail("launcher", f"cannot read {launcher}: {error.strerror or error}", fix)], None
    except (UnicodeDecodeError, ValueError):
        words = []
    if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return [
            fail("launcher", f"{launcher} is not root's alone (uid {info.st_uid}, {info.st_mode & 0o7777:o})", fix)
        ], None
    python = _python_of(words)
    if python is None:
        return [
            fail("launcher", f"{launcher} is not an rshell launcher (no 'env -i PYTHON -I -c ...rshell.login...')", fix)
        ], None
    return [ok("launcher", f"{launcher}: root's, clears the environment, runs {python} -I (rshell.login)")], python


def _python_of(words: list[str]) -> Path | None:
    if words[:3] != ["exec", "/usr/bin/env", "-i"] or LOGIN_CODE not in words:
        return None
    code = words.index(LOGIN_CODE)
    if words[code - 2 : code] != ["-I", "-c"]:
        return None
    return Path(words[code - 3])


def policy_findings(path: Path, account: Account) -> list[Finding]:
    try:
        check_policy_file(path)
    except PolicyError as error:
        return [fail("policy-file", error.message, f"chown root:root {path}; chmod 0644 {path}")]
    found = [ok("policy-file", f"{path} and its directories are root's and not writable by others")]
    try:
        policy = load_policy(path, Registry.discover().settings_schemas())
    except PolicyError as error:
        return [*found, fail("policy", error.message, f"rshellctl policy check {path}")]
    view = view_for(policy, Principal.from_uid(account.uid, account.gid))
    if view.role is None:
        return [*found, warn("policy-role", f"{account.name} has no role: every verb is denied", f"map it in {path}")]
    return [*found, ok("policy-role", f"{account.name} has role {view.role.name} ({view.role_reason})")]


def socket_findings(path: Path, group: str, account: Account) -> list[Finding]:
    try:
        info = os.lstat(path)
    except OSError as error:
        return [
            fail(
                "broker-socket",
                f"{path}: {error.strerror}",
                "start rshelld: systemctl start rshelld, or without systemd as README 'Hosts without systemd' says",
            )
        ]
    fix = f"rshelld --socket {path} --socket-group {group} makes it 0660, group {group}"
    if not stat.S_ISSOCK(info.st_mode):
        return [fail("broker-socket", f"{path} is not a socket", fix)]
    group_name = _group_name(info.st_gid)
    mode = info.st_mode & 0o777
    seen = f"{path} is uid {info.st_uid}, group {group_name}, mode {mode:o}"
    if info.st_uid == account.uid or mode & 0o007 or group_name != group:
        return [fail("broker-socket", f"{seen}; wanted the broker's, group {group}, 0660", fix)]
    return [ok("broker-socket", seen)]


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid:{gid}"
