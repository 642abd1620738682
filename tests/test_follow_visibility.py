"""A followed stream (``rshell -c 'logs X --follow'``, in-process) ends once X leaves the caller's
view: exit 126 and one line, in human and JSON form. The broker's version is tests/broker/test_revocation.py."""

from __future__ import annotations

import json
import select
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import EngineContainers
from tests.support.shell import RSHELL, write_policy

#: a re-check every 1.5 s: a stream still running this long after the rename outlived visibility
END_DEADLINE = 20.0
TICKING = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"


@pytest.fixture
def ticking(containers: EngineContainers) -> Iterator[Any]:
    container = containers.run("follow-local", TICKING)
    try:
        yield container
    finally:
        container.remove(force=True)


def follow_until_renamed(policy: Path, container: Any, line: str) -> tuple[int, str, str]:
    """Start the stream, wait for its first line, rename the container; its status, stdout, stderr."""
    process = subprocess.Popen(
        [*RSHELL, "--policy", str(policy), "-c", line], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/"
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the stream showed nothing"
        first = process.stdout.readline().decode()
        container.rename(f"{container.name}-away")
        stdout, stderr = process.communicate(timeout=END_DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, first + stdout.decode(), stderr.decode()


@pytest.mark.parametrize("json_output", [False, True], ids=["human", "json"])
def test_a_follow_ends_with_126_when_its_container_is_renamed_out_of_the_policy(
    policy_dir: Path, ticking: Any, json_output: bool
) -> None:
    name = ticking.name
    body = "principals:\n  users: {root: viewer}\nroles:\n  viewer:\n    verbs: [logs]\n"
    body += f"    containers: {{names: [{name}]}}\n"
    line = f"logs {name} --follow" + (" --json" if json_output else "")
    status, stdout, stderr = follow_until_renamed(write_policy(policy_dir, body), ticking, line)
    assert status == 126, stderr
    message = f"logs {name}: stopped: the container is no longer visible to you"
    if json_output:
        assert json.loads(stderr) == {"error": {"code": "denied", "message": message}}
        assert all(json.loads(row)["line"].startswith("tick") for row in stdout.splitlines())
    else:
        assert stderr == f"rshell: {message}\n"
        assert stdout.startswith("tick")
    records = [json.loads(row) for row in (policy_dir / "audit.jsonl").read_text().splitlines()]
    assert (records[-1]["verb"], records[-1]["exit_code"], records[-1]["decision"]) == ("logs", 126, "denied")
