"""``rshellctl doctor`` options: which account, and where this host keeps sshd, policy and broker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rshell.defaults import DEFAULT_POLICY_PATH, DEFAULT_SOCKET
from rshell.errors import UsageError

USAGE = (
    "usage: rshellctl doctor [--user NAME] [--json] [--launcher PATH] [--policy FILE] [--socket PATH]"
    " [--socket-group GROUP] [--sshd PATH] [--sshd-config FILE] [--sshd-host NAME] [--sshd-addr ADDRESS]"
)
PATH_OPTIONS = {
    "--launcher": "launcher",
    "--policy": "policy",
    "--socket": "socket",
    "--sshd": "sshd",
    "--sshd-config": "sshd_config",
}
TEXT_OPTIONS = {"--user": "user", "--socket-group": "socket_group", "--sshd-host": "host", "--sshd-addr": "addr"}


@dataclass
class DoctorOptions:
    user: str = "ai-worker"
    json: bool = False
    #: None: the account's login shell, which must then be an rshell launcher
    launcher: Path | None = None
    policy: Path = Path(DEFAULT_POLICY_PATH)
    socket: Path = Path(DEFAULT_SOCKET)
    socket_group: str = "rshell"
    sshd: Path = Path("/usr/sbin/sshd")
    sshd_config: Path = Path("/etc/ssh/sshd_config")
    #: the connection `sshd -T -C` evaluates Match blocks for
    host: str = "localhost"
    addr: str = "127.0.0.1"


def parse_doctor_options(argv: Sequence[str]) -> DoctorOptions:
    options, words = DoctorOptions(), list(argv)
    while words:
        word = words.pop(0)
        if word == "--json":
            options.json = True
        elif word in PATH_OPTIONS and words:
            setattr(options, PATH_OPTIONS[word], Path(words.pop(0)))
        elif word in TEXT_OPTIONS and words:
            setattr(options, TEXT_OPTIONS[word], words.pop(0))
        else:
            raise UsageError(f"unknown option {word!r}\n{USAGE}")
    return options
