"""``rshellctl install-user NAME``: set up an agent account whose login shell is the rshell launcher.

It writes the launcher (root:root 0755), lists it in /etc/shells, makes the socket group, creates
the account (password ``*``: no password, but not locked, so sshd without PAM accepts its key) or
adjusts an existing one, and makes the home directory and ~/.ssh root's, so nothing sshd or PAM
reads from there (authorized_keys, rc, environment, .pam_environment) can be changed by the agent.
It refuses an account in the docker group. Debian's shadow tools do the account work.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rshell.defaults import DEFAULT_SOCKET
from rshell.errors import RshellError, UsageError
from rshell.launcher import DEFAULT_LAUNCHER, render_launcher

USAGE = (
    "usage: rshellctl install-user NAME [--socket-group GROUP] [--launcher PATH] [--python PATH]"
    " [--socket PATH] [--home DIR] [--authorized-key FILE.pub ...]"
)
SHELLS = Path("/etc/shells")
DOCKER_GROUP = "docker"
USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
Say = Callable[[str], None]


@dataclass
class InstallOptions:
    name: str
    socket_group: str = "rshell"
    launcher: Path = DEFAULT_LAUNCHER
    #: the venv's interpreter (not resolved: the venv's site-packages come with its path)
    python: Path = field(default_factory=lambda: Path(sys.executable))
    socket: Path = Path(DEFAULT_SOCKET)
    home: Path | None = None
    authorized_keys: list[Path] = field(default_factory=list)


def parse_install_options(argv: Sequence[str]) -> InstallOptions:
    words = list(argv)
    if not words or words[0].startswith("-"):
        raise UsageError(USAGE)
    options = InstallOptions(words.pop(0))
    paths = {"--launcher": "launcher", "--python": "python", "--socket": "socket", "--home": "home"}
    while words:
        word = words.pop(0)
        if word == "--socket-group" and words:
            options.socket_group = words.pop(0)
        elif word in paths and words:
            setattr(options, paths[word], Path(words.pop(0)))
        elif word == "--authorized-key" and words:
            options.authorized_keys.append(Path(words.pop(0)))
        else:
            raise UsageError(f"unknown option {word!r}\n{USAGE}")
    if not USER_NAME.fullmatch(options.name):
        raise UsageError(f"{options.name!r} is not a valid user name")
    return options


def install_user(options: InstallOptions, say: Say) -> int:
    if os.geteuid() != 0:
        raise RshellError("install-user changes accounts and /etc: run it as root")
    _refuse_docker_member(options.name)
    _check_python(options.python)
    write_launcher(options, say)
    add_to_shells(options.launcher, say)
    _ensure_group(options.socket_group, say)
    home = _ensure_account(options, say)
    prepare_home(home, options, say)
    say(
        f"next: install deploy/sshd_config.d/rshell.conf as /etc/ssh/sshd_config.d/rshell.conf, reload sshd,"
        f" map {options.name} to a role in the policy, then run: rshellctl doctor --user {options.name}"
    )
    return 0


def _refuse_docker_member(name: str) -> None:
    try:
        docker = grp.getgrnam(DOCKER_GROUP)
        entry = pwd.getpwnam(name)
    except KeyError:
        return
    if name in docker.gr_mem or entry.pw_gid == docker.gr_gid:
        raise RshellError(
            f"{name} is in the {DOCKER_GROUP} group, which can reach the Docker socket and become root;"
            f" remove it first: gpasswd -d {name} {DOCKER_GROUP}"
        )


def _check_python(python: Path) -> None:
    done = subprocess.run(
        [str(python), "-I", "-c", "import rshell.login"], capture_output=True, text=True, check=False, env={}
    )
    if done.returncode != 0:
        raise RshellError(
            f"{python} cannot import rshell (give the venv's python with --python): {done.stderr.strip()}"
        )


def write_launcher(options: InstallOptions, say: Say) -> None:
    text = render_launcher(options.python, options.launcher, options.socket)
    options.launcher.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=options.launcher.parent, prefix=".rshell-login.")
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    os.chown(temporary, 0, 0)
    os.chmod(temporary, 0o755)  # noqa: S103 - a login shell: everyone may run it, only root may change it
    os.replace(temporary, options.launcher)
    say(f"wrote {options.launcher} (root:root 0755): {options.python} -I, broker {options.socket}")


def add_to_shells(launcher: Path, say: Say) -> None:
    text = SHELLS.read_text() if SHELLS.exists() else ""
    if str(launcher) in (line.strip() for line in text.splitlines()):
        return
    with SHELLS.open("a") as stream:
        stream.write(("" if text.endswith("\n") or not text else "\n") + f"{launcher}\n")
    say(f"listed {launcher} in {SHELLS}")


def _ensure_group(group: str, say: Say) -> None:
    try:
        grp.getgrnam(group)
    except KeyError:
        _run(["groupadd", "--system", group])
        say(f"created group {group}")


def _ensure_account(options: InstallOptions, say: Say) -> Path:
    name, shell = options.name, str(options.launcher)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        home = options.home or Path("/home") / name
        account = ["--home-dir", str(home), "--no-create-home", "--shell", shell, "--password", "*"]
        _run(["useradd", *account, "--user-group", "--groups", options.socket_group, "--comment", "rshell agent", name])
        say(f"created {name}: shell {shell}, password '*', groups {name},{options.socket_group}")
        return home
    _run(["usermod", "--shell", shell, "--password", "*", "--append", "--groups", options.socket_group, name])
    say(f"updated {name}: shell {shell}, password '*', added to {options.socket_group}")
    return Path(entry.pw_dir)


def prepare_home(home: Path, options: InstallOptions, say: Say) -> None:
    """Home and ~/.ssh root:root 0755, authorized_keys root:root 0644, with the given keys added."""
    ssh = home / ".ssh"
    for directory in (home, ssh):
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chown(directory, 0, 0)
        os.chmod(directory, 0o755)  # noqa: S103 - sshd reads it as the user; only root may change it
    keys = ssh / "authorized_keys"
    present = keys.read_text().splitlines() if keys.exists() else []
    added = [line for path in options.authorized_keys for line in path.read_text().splitlines() if line.strip()]
    new = [line for line in added if line not in present]
    keys.write_text("".join(f"{line}\n" for line in [*present, *new]))
    os.chown(keys, 0, 0)
    os.chmod(keys, 0o644)
    say(f"{home} and {ssh} are root:root 0755; {keys} root:root 0644 ({len(new)} key(s) added)")
    uid = pwd.getpwnam(options.name).pw_uid
    for leftover in (ssh / "rc", ssh / "environment", home / ".pam_environment"):
        if leftover.exists() and leftover.stat().st_uid == uid:
            say(f"warning: {leftover} belongs to {options.name}; remove it or make it root's")


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RshellError(f"{command[0]} failed: {done.stderr.strip() or done.returncode}")
