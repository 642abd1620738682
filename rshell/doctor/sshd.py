"""sshd as it will treat the account: ``sshd -T -C user=...`` evaluates every Match block for it."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

from rshell.doctor.account import Account
from rshell.doctor.findings import Finding, fail, ok, warn
from rshell.doctor.options import DoctorOptions
from rshell.launcher import FORCED_COMMAND

Settings = dict[str, list[str]]
DROP_IN = "deploy/sshd_config.d/rshell.conf"
#: variables that change what the loader, /bin/sh or Python run, or what rshell is told
DANGEROUS_ENV = (
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "GLIBC_TUNABLES",
    "GCONV_PATH",
    "LOCPATH",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "BASH_ENV",
    "ENV",
    "PATH",
    "HOME",
    "SHELL",
    "SSH_ORIGINAL_COMMAND",
)
FORWARDING = ("allowtcpforwarding", "allowstreamlocalforwarding", "x11forwarding", "allowagentforwarding")
MUST_BE_NO = {
    "permittunnel": "ssh -w would create tun/tap devices, which DisableForwarding does not cover",
    "permituserrc": "sshd would run ~/.ssh/rc before the session",
    "permituserenvironment": "sshd would read ~/.ssh/environment, LD_PRELOAD included, before the launcher runs",
}
PAM_SSHD = Path("/etc/pam.d/sshd")


def effective_settings(options: DoctorOptions, account: Account) -> tuple[Settings | None, str]:
    command = [
        str(options.sshd),
        "-T",
        "-f",
        str(options.sshd_config),
        "-C",
        f"user={account.name},host={options.host},addr={options.addr}",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError as error:
        return None, f"cannot run {options.sshd}: {error.strerror or error}"
    if done.returncode != 0:
        return None, (done.stderr.strip() or f"exit {done.returncode}").splitlines()[-1]
    settings: Settings = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        settings.setdefault(key.lower(), []).append(value)
    return settings, ""


def sshd_findings(settings: Settings) -> list[Finding]:
    findings = [_force_command(settings), *_forwarding(settings)]
    for key, why in MUST_BE_NO.items():
        findings.append(_must_be_no(settings, key, why))
    findings += [_accept_env(settings), _pam(settings), _tty(settings)]
    return findings


def first(settings: Settings, key: str) -> str:
    return (settings.get(key) or [""])[0]


def _force_command(settings: Settings) -> Finding:
    forced = first(settings, "forcecommand")
    sftp = [value for value in settings.get("subsystem", []) if value.split()[:1] == ["sftp"]]
    internal = any("internal-sftp" in value.split()[1:2] for value in sftp)
    if forced == FORCED_COMMAND:
        return ok(
            "sshd-forcecommand", f"ForceCommand {FORCED_COMMAND}: commands, scp and subsystems reach the launcher"
        )
    fix = f"install {DROP_IN} as /etc/ssh/sshd_config.d/rshell.conf and reload sshd"
    if forced not in ("", "none"):
        return fail("sshd-forcecommand", f"ForceCommand {forced} runs instead of the launcher", fix)
    if internal:
        return fail(
            "sshd-forcecommand", "no ForceCommand and 'Subsystem sftp internal-sftp': sftp bypasses the shell", fix
        )
    return warn("sshd-forcecommand", "no ForceCommand: an internal-sftp subsystem would bypass the login shell", fix)


def _forwarding(settings: Settings) -> list[Finding]:
    if first(settings, "disableforwarding") == "yes":
        return [ok("sshd-forwarding", "DisableForwarding yes: no TCP, unix-socket, X11 or agent forwarding")]
    allowed = [key for key in FORWARDING if first(settings, key) not in ("no", "")]
    if not allowed:
        return [ok("sshd-forwarding", "TCP, unix-socket, X11 and agent forwarding are all off")]
    return [
        fail(
            "sshd-forwarding",
            f"{', '.join(allowed)} on: forwarding never starts the shell; it reaches sockets and ports directly",
            "DisableForwarding yes in the account's Match block (see " + DROP_IN + ")",
        )
    ]


def _must_be_no(settings: Settings, key: str, why: str) -> Finding:
    value = first(settings, key)
    if value == "no":
        return ok(f"sshd-{key}", f"{key} no")
    return fail(f"sshd-{key}", f"{key} {value or '(unset)'}: {why}", f"{key} no (see {DROP_IN})")


def _accept_env(settings: Settings) -> Finding:
    patterns = [pattern for value in settings.get("acceptenv", []) for pattern in value.split()]
    dangerous = [name for name in DANGEROUS_ENV if any(fnmatch.fnmatchcase(name, p) for p in patterns)]
    if dangerous:
        return fail(
            "sshd-acceptenv",
            f"AcceptEnv {' '.join(patterns)} lets the client set {', '.join(dangerous)} before the launcher runs",
            f"AcceptEnv TERM in the Match block (see {DROP_IN})",
        )
    locale = [p for p in patterns if fnmatch.fnmatchcase("LC_ALL", p) or fnmatch.fnmatchcase("LANG", p)]
    forced_locale = any(value.startswith("LC_ALL=") for value in settings.get("setenv", []))
    if locale and not forced_locale:
        return warn(
            "sshd-acceptenv",
            f"AcceptEnv {' '.join(locale)}: client locale variables reach /bin/sh and env before the launcher",
            f"AcceptEnv TERM and SetEnv LC_ALL=C.UTF-8 in the Match block (see {DROP_IN})",
        )
    return ok("sshd-acceptenv", f"AcceptEnv {' '.join(patterns) or '(none)'}: no loader, shell or Python variables")


def _pam(settings: Settings) -> Finding:
    if first(settings, "usepam") != "yes":
        return ok("sshd-pam", "UsePAM no: pam_env does not read the account's files")
    if _reads_user_env(PAM_SSHD, depth=0):
        return ok(
            "sshd-pam",
            f"{PAM_SSHD}: pam_env user_readenv=1 reads ~/.pam_environment: safe only while the home is root's (below)",
        )
    return ok("sshd-pam", f"{PAM_SSHD}: pam_env does not read ~/.pam_environment")


def _reads_user_env(path: Path, depth: int) -> bool:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return False
    for line in (raw.split("#", 1)[0].strip() for raw in lines):
        if line.startswith("@include") and depth < 4 and _reads_user_env(path.parent / line.split()[-1], depth + 1):
            return True
        if "pam_env.so" in line and re.search(r"\buser_readenv=1\b", line):
            return True
    return False


def _tty(settings: Settings) -> Finding:
    if first(settings, "permittty") == "no":
        return warn("sshd-permittty", "PermitTTY no: the interactive shell cannot start", "PermitTTY yes")
    return ok("sshd-permittty", "PermitTTY yes: interactive logins get the REPL")


def authorized_key_files(settings: Settings, account: Account) -> list[Path]:
    """The account's authorized keys files, as sshd expands them."""
    paths = []
    for value in settings.get("authorizedkeysfile", []):
        for word in value.split():
            expanded = word.replace("%%", "\0").replace("%h", str(account.home)).replace("%u", account.name)
            expanded = expanded.replace("%U", str(account.uid)).replace("\0", "%")
            paths.append(Path(expanded) if expanded.startswith("/") else account.home / expanded)
    return paths
