"""Run rshell as a user would: a real process, real exit codes, real stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RSHELL = [sys.executable, "-I", "-m", "rshell.cli"]


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def ndjson(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line]

    def error(self) -> Any:
        """The JSON error document on stderr."""
        return json.loads(self.stderr.strip().splitlines()[-1])


def as_user(user: str, group: str) -> list[str]:
    """The command prefix that runs rshell as an unprivileged unix user, with no extra groups."""
    return ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups"]


def run_rshell(
    policy: Path,
    *args: str,
    stdin: str | bytes | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] | list[str] = (),
) -> Outcome:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    completed = subprocess.run(
        [*prefix, *RSHELL, "--policy", str(policy), *args],
        input=data if data is not None else b"",
        capture_output=True,
        timeout=timeout,
        env=env,
        cwd="/",
        check=False,
    )
    return Outcome(
        completed.returncode,
        completed.stdout.decode("utf-8", "replace"),
        completed.stderr.decode("utf-8", "replace"),
    )


def write_policy(directory: Path, body: str, *, mode: int = 0o600) -> Path:
    """Write a policy whose audit log and state live in ``directory``; ``body`` is the roles part."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    header = textwrap.dedent(
        f"""\
        version: 1
        engine:
          url: unix:///var/run/docker.sock
          timeout: 20s
        audit_log: {directory}/audit.jsonl
        state_dir: {directory}/state
        """
    )
    path = directory / "policy.yaml"
    path.write_text(header + textwrap.dedent(body))
    path.chmod(mode)
    return path


def audit_records(policy_dir: Path) -> list[dict[str, Any]]:
    path = policy_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_shared_policy(directory: Path, body: str, *, writer_uid: int) -> tuple[Path, Path]:
    """A root-owned policy another user can read, with its audit log and state in a directory
    that user owns; returns (policy path, that directory) for ``audit_records``."""
    etc, var = directory / "etc", directory / "var"
    path = write_policy(etc, body, mode=0o644)
    etc.chmod(0o755)
    var.mkdir(mode=0o755)
    os.chown(var, writer_uid, -1)
    path.write_text(
        path.read_text().replace(f"{etc}/audit.jsonl", f"{var}/audit.jsonl").replace(f"{etc}/state", f"{var}/state")
    )
    return path, var
