"""The broker under test: a real rshelld process as root, and clients run as a real unprivileged user."""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rshell.frames import END, JSON_LINE, STDOUT, frames_of
from tests.support.shell import Outcome

PYTHON = [sys.executable, "-I"]
RSHELLD = [*PYTHON, "-m", "rshell.broker.server"]
RSHELL = [*PYTHON, "-m", "rshell.cli"]
START_DEADLINE = 20.0
#: the comment of every account this suite makes, followed by the pid of the session that made it
ACCOUNT_COMMENT = "rshell broker test, pid "
#: a hand-crafted request, run as the agent: payload bytes on stdin (``half`` closes without reading),
#: every reply line on stdout as one JSON array, or {"closed": ...} when the broker closed first
CRAFTED_CLIENT = """
import json, socket, sys
path, half = sys.argv[1], sys.argv[2] == "half"
payload = sys.stdin.buffer.read()
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(30)
sock.connect(path)
try:
    sock.sendall(payload)
except OSError as error:
    print(json.dumps({"send_error": error.__class__.__name__}), file=sys.stderr)
if half:
    sock.close()
    raise SystemExit(0)
data = b""
while True:
    try:
        chunk = sock.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    data += chunk
print(data.hex())  # decode_replies reads it in the test
"""


@dataclass(frozen=True)
class Agent:
    """The unprivileged unix user the client runs as, and the group that may reach the socket."""

    user: str
    group: str

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.user).pw_uid

    def prefix(self) -> list[str]:
        """Run a command as this user with its real groups (the socket group, never docker)."""
        return ["setpriv", f"--reuid={self.user}", f"--regid={self.group}", "--init-groups", "--"]


def make_group(name: str) -> None:
    _retry(["groupadd", "--system", name])


def make_user(name: str, group: str, extra_groups: tuple[str, ...] = ()) -> None:
    """A system user with no home, no login shell and a locked password, in ``group`` and
    ``extra_groups`` only; its comment names this process, so a later session can tell it is stale."""
    groups = ["--groups", ",".join(extra_groups)] if extra_groups else []
    _retry(
        [
            "useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
            "--gid", group, *groups, "--password", "*", "--comment", f"{ACCOUNT_COMMENT}{os.getpid()}", name,
        ]
    )  # fmt: skip


def remove_account(kind: str, name: str) -> None:
    """``userdel`` or ``groupdel``; an account already gone is fine."""
    with contextlib.suppress(subprocess.CalledProcessError):
        _retry([f"{kind}del", name])


def remove_stale_accounts(group_prefixes: tuple[str, ...]) -> None:
    """Users (and their groups, same token) an interrupted session left behind: their maker is dead."""
    for entry in pwd.getpwall():
        if not entry.pw_gecos.startswith(ACCOUNT_COMMENT) or _alive(entry.pw_gecos.removeprefix(ACCOUNT_COMMENT)):
            continue
        remove_account("user", entry.pw_name)
        token = entry.pw_name.rsplit("-", 1)[-1]
        for prefix in group_prefixes:
            with contextlib.suppress(KeyError):
                remove_account("group", grp.getgrnam(f"{prefix}{token}").gr_name)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _retry(command: list[str]) -> None:
    """Other test sessions may hold the passwd lock for a moment; try again rather than fail."""
    for attempt in range(20):
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode == 0:
            return
        if "lock" not in completed.stderr or attempt == 19:
            raise subprocess.CalledProcessError(completed.returncode, command, completed.stdout, completed.stderr)
        time.sleep(0.25)


class Broker:
    """One rshelld process, its socket and its stderr."""

    def __init__(
        self,
        policy: Path,
        socket_path: Path,
        group: str,
        log: Path,
        *,
        prefix: list[str] | None = None,
        options: Sequence[str] = (),
    ) -> None:
        self.policy = policy
        self.socket = socket_path
        self.log = log
        command = [*(prefix or []), *RSHELLD, "--policy", str(policy), "--socket", str(socket_path), *options]
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [*command, "--socket-group", group], stdin=subprocess.DEVNULL, stderr=stderr, cwd="/"
            )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rshelld exited with {self.process.returncode}: {self.stderr()}")
            with contextlib.suppress(OSError, ValueError):
                if raw_exchange(self.socket, {"v": 1, "op": "status"}, timeout=2)[0].get("op") == "status":
                    return
            time.sleep(0.05)
        raise RuntimeError(f"rshelld did not answer on {self.socket}: {self.stderr()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/task"))

    def stderr(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def reload(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def raw_exchange(path: Path, message: dict[str, Any], timeout: float = 30) -> list[dict[str, Any]]:
    """Send one request as this process (root) and read every reply until the broker closes; output
    and end frames (rshell.frames) come back as {"op": "out", "fd", "text"} and {"op": "end", "status"}."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(json.dumps(message).encode() + b"\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return decode_replies(data)


def decode_replies(data: bytes) -> list[dict[str, Any]]:
    """JSON lines and frames, in the order the broker sent them."""
    replies: list[dict[str, Any]] = []
    for kind, payload in frames_of(data):
        if kind == JSON_LINE:
            replies.append(json.loads(payload))
        elif kind == END:
            replies.append({"op": "end", "status": int(payload)})
        else:
            replies.append({"op": "out", "fd": 1 if kind == STDOUT else 2, "text": payload.decode()})
    return replies


def replies_outcome(replies: list[dict[str, Any]]) -> Outcome:
    """What a client would show for these replies: stdout, stderr and the exit status (-1: no end)."""
    out = {1: "", 2: ""}
    status = -1
    for reply in replies:
        if reply.get("op") == "out":
            out[int(reply["fd"])] += str(reply["text"])
        elif reply.get("op") == "end":
            status = int(reply["status"])
    return Outcome(status, out[1], out[2])


def run_client(agent: Agent | None, socket_path: Path, *args: str, stdin: str = "", timeout: float = 60) -> Outcome:
    """``rshell --broker SOCKET ARGS`` as the agent (or as root when ``agent`` is None)."""
    prefix = agent.prefix() if agent else []
    completed = subprocess.run(
        [*prefix, *RSHELL, "--broker", str(socket_path), *args],
        input=stdin.encode(),
        capture_output=True,
        timeout=timeout,
        cwd="/",
        check=False,
    )
    return Outcome(completed.returncode, completed.stdout.decode(errors="replace"), completed.stderr.decode())


def run_as(agent: Agent, script: str, *args: str, stdin: bytes = b"", timeout: float = 60) -> Outcome:
    """A small Python script run as the agent, in isolated mode."""
    completed = subprocess.run(
        [*agent.prefix(), *PYTHON, "-c", script, *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        cwd="/",
        check=False,
    )
    return Outcome(completed.returncode, completed.stdout.decode(errors="replace"), completed.stderr.decode())


def wait_for(condition: Any, deadline: float, interval: float = 0.05) -> bool:
    """Poll ``condition()`` until it is true or ``deadline`` seconds have passed."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


def settled_threads(broker: Broker) -> int:
    """The broker's thread count once it has stopped changing (no other request in flight)."""
    last = broker.threads()
    for _ in range(40):
        time.sleep(0.1)
        now = broker.threads()
        if now == last:
            return now
        last = now
    return last
