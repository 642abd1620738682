"""The running broker as the kernel sees it: its pid (the socket's peer), uid, capabilities,
NoNewPrivs, the interpreter it runs and whether that imports what the policy's verbs need; and,
for a socket the account cannot reach, the exact path, its mode and the fix."""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from pathlib import Path
from typing import Any

from rshell.doctor.account import Account
from rshell.doctor.dependencies import dependency_problems, interpreter_of
from rshell.doctor.findings import Finding, fail, ok, warn
from rshell.errors import PolicyError
from rshell.policy.loader import load_policy
from rshell.registry import Registry

#: capability numbers to names (linux/capability.h)
CAPABILITIES = (  # noqa: SIM905 - a list literal of 41 names would take 41 lines
    "chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap linux_immutable net_bind_service "
    "net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module sys_rawio sys_chroot sys_ptrace sys_pacct "
    "sys_admin sys_boot sys_nice sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap "
    "mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore"
).split()
#: what the systemd unit leaves root's rshelld (CapabilityBoundingSet=CAP_CHOWN)
UNIT_CAPABILITIES = frozenset({"chown"})
#: more effective capabilities than this are counted, not listed
MAX_NAMED = 6


def broker_pid(path: Path) -> int | None:
    """The pid of the process listening on ``path`` (SO_PEERCRED of a connection), None if none listens."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(str(path))
            credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        except OSError:
            return None
    pid = int(struct.unpack("3i", credentials)[0])
    return pid or None


def decode_capabilities(mask: int) -> list[str]:
    return [CAPABILITIES[bit] if bit < len(CAPABILITIES) else f"cap_{bit}" for bit in range(64) if mask >> bit & 1]


def process_status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def process_findings(pid: int) -> list[Finding]:
    """The broker's effective uid, effective capabilities and NoNewPrivs, next to what the unit gives it."""
    try:
        status = process_status(pid)
        uid = int(status["Uid"].split()[1])
        capabilities = decode_capabilities(int(status["CapEff"], 16))
        no_new_privs = status.get("NoNewPrivs", "?")
    except (OSError, KeyError, ValueError, IndexError) as error:
        return [warn("broker-process", f"cannot read /proc/{pid}/status: {error}", "run rshellctl doctor as root")]
    shown = ",".join(capabilities) if len(capabilities) <= MAX_NAMED else f"{len(capabilities)} capabilities"
    if len(capabilities) > MAX_NAMED and "sys_admin" in capabilities:
        shown += ", sys_admin among them"
    seen = f"rshelld pid {pid}: euid {uid} ({_user(uid)}), CapEff {status['CapEff']} ({shown or 'none'})"
    seen += f", NoNewPrivs {no_new_privs}"
    if set(capabilities) <= UNIT_CAPABILITIES and no_new_privs == "1":
        return [ok("broker-process", seen)]
    return [
        warn(
            "broker-process",
            f"{seen}: more than the unit allows (CapEff chown at most, NoNewPrivs 1)",
            "start it under systemd (deploy/systemd/rshelld.service), or as README 'Hosts without systemd' says:"
            " setpriv --no-new-privs --bounding-set=-all,+chown --inh-caps=-all rshelld ...",
        )
    ]


def dependency_findings(policy_path: Path, python: Path) -> list[Finding]:
    """FAIL for each role's verb whose modules the broker's own interpreter cannot import."""
    registry = Registry.discover()
    try:
        policy = load_policy(policy_path, registry.settings_schemas())
    except PolicyError:
        return []  # policy_findings reports it
    problems = dependency_problems(policy, registry, python)
    if not problems:
        return [ok("broker-dependencies", f"{python} imports what the policy's verbs need")]
    return [fail("broker-dependencies", problem, fix) for problem, fix in problems]


def broker_findings(path: Path, policy_path: Path) -> list[Finding]:
    """Everything doctor can learn from the running broker's process; nothing when none listens."""
    pid = broker_pid(path)
    if pid is None:
        return []
    findings = process_findings(pid)
    python = interpreter_of(pid)
    if python is None:
        return [*findings, warn("broker-dependencies", f"cannot tell which Python pid {pid} runs", "run as root")]
    return findings + dependency_findings(policy_path, python)


def unreachable_fix(account: Account, group: str, access: list[dict[str, Any]]) -> str:
    """The first path on the way to the socket the account cannot pass, its owner and mode, and the fix."""
    for entry in access:
        if entry["ok"]:
            continue
        path = Path(str(entry["path"]))
        described = _describe(path)
        if entry["kind"] == "directory":
            return (
                f"{described}; {account.name} needs x on it: chmod 0755 {path}"
                " (under systemd: RuntimeDirectoryMode=0755; else start rshelld with umask 022, README"
                " 'Hosts without systemd')"
            )
        return (
            f"{described}; {account.name} needs read and write on it (mode 0660, group {group}, with"
            f" {account.name} in {group}): chgrp {group} {path}; chmod 0660 {path}; gpasswd -a {account.name} {group}"
            " (rshelld --socket-group sets both)"
        )
    return f"rshellctl status --socket PATH as {account.name}; gpasswd -a {account.name} {group}"


def _describe(path: Path) -> str:
    try:
        info = os.stat(path)
    except OSError as error:
        return f"{path}: {error.strerror}"
    return f"{path} is {info.st_mode & 0o7777:04o} {_user(info.st_uid)}:{_group(info.st_gid)}"


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
