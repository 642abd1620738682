"""A throwaway rshell deployment on loopback: real sshd, real rshelld, a real account, the real ssh client."""

from __future__ import annotations

import contextlib
import pwd
import secrets
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.shell import Outcome

REPO = Path(__file__).resolve().parents[2]
DROP_IN = REPO / "deploy" / "sshd_config.d" / "rshell.conf"
SSHD = Path("/usr/sbin/sshd")
#: the agent account, unique per test process: two sessions on one host must not share it
USER = f"rshtest-ssh-{secrets.token_hex(3)}"
#: the group the drop-in's "Match Group" names, and the broker socket's group. Made when missing and
#: left in place: another session on this host may be using it.
GROUP = "rshell"
CLIENT_OPTIONS = (
    "-F",
    "/dev/null",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=10",
)
CLIENT_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def sshd_config(base: Path, name: str, port: int, *, head: str = "", include: Path = DROP_IN, tail: str = "") -> Path:
    """A Debian-like sshd_config: the rshell drop-in included first, then Debian's own global lines."""
    path = base / f"sshd_config.{name}"
    path.write_text(
        f"{head}"
        f"Include {include}\n"
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {base}/ssh_host_ed25519_key\n"
        f"PidFile {base}/sshd.{name}.pid\n"
        "UsePAM no\n"
        "StrictModes yes\n"
        "AuthorizedKeysFile .ssh/authorized_keys\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        f"AllowUsers {USER}\n"
        "LogLevel DEBUG2\n"
        "# Debian's defaults, which the Match block must override for the agent:\n"
        "X11Forwarding yes\n"
        "AcceptEnv LANG LC_*\n"
        f"{tail or 'Subsystem sftp /usr/lib/openssh/sftp-server'}\n"
    )
    return path


@dataclass
class Sshd:
    config: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, config: Path, port: int) -> Sshd:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = config.parent / f"{config.name}.log"
        with log.open("wb") as stream:
            process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stderr=stream, stdout=stream)
        try:
            wait_for_port(port)
        except TimeoutError:
            process.kill()
            raise RuntimeError(f"sshd did not start: {log.read_text()}") from None
        return cls(config, port, log, process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Deployment:
    base: Path
    key: Path
    sshd: Sshd
    launcher: Path
    socket: Path
    policy: Path
    #: containers the agent sees (web) and does not see (hidden)
    web: str
    hidden: str
    #: a directory the agent owns: where an upload or a marker would land
    dropbox: Path
    #: root's files planted for the injection tests (never writable by the agent)
    payload: Path

    @property
    def uid(self) -> int:
        return pwd.getpwnam(USER).pw_uid

    @property
    def home(self) -> Path:
        return Path(pwd.getpwnam(USER).pw_dir)

    def client(self, program: str, port_flag: str, *args: str, port: int | None = None) -> list[str]:
        """``program`` (ssh, sftp, scp) with the throwaway key, against ``port`` (the main sshd's by default)."""
        return [program, *CLIENT_OPTIONS, "-i", str(self.key), port_flag, str(port or self.sshd.port), *args]

    def ssh(self, *args: str, options: Sequence[str] = (), stdin: bytes = b"", port: int | None = None) -> Outcome:
        """``ssh [options] rshtest-ssh@127.0.0.1 args...``; pass "--" and the command in ``args``."""
        return run(self.client("ssh", "-p", *options, f"{USER}@127.0.0.1", *args, port=port), stdin=stdin)


def run(command: Sequence[str], *, stdin: bytes = b"", timeout: float = 30) -> Outcome:
    done = subprocess.run(command, input=stdin, capture_output=True, timeout=timeout, env=CLIENT_ENV, check=False)
    return Outcome(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


def as_agent(command: Sequence[str], *, timeout: float = 30) -> Outcome:
    """Run ``command`` directly as the agent account (not through sshd), with its groups."""
    prefix = ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups"]
    done = subprocess.run(
        [*prefix, *command], capture_output=True, timeout=timeout, env=CLIENT_ENV, cwd="/", check=False
    )
    return Outcome(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


def remove_stale_accounts() -> None:
    """Accounts an interrupted session left behind: ours by name, their session directory gone (it is
    made before the account, so a session still setting its account up is never taken for stale)."""
    for entry in pwd.getpwall():
        if entry.pw_name.startswith("rshtest-ssh-") and not Path(entry.pw_dir).parents[1].exists():
            remove_account(entry.pw_name)


def remove_account(name: str) -> None:
    with contextlib.suppress(KeyError):
        pwd.getpwnam(name)
        subprocess.run(["userdel", name], capture_output=True, check=False)


def remove_shells_line(line: str) -> None:
    shells = Path("/etc/shells")
    kept = [entry for entry in shells.read_text().splitlines() if entry.strip() != line]
    shells.write_text("".join(f"{entry}\n" for entry in kept))
