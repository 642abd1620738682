"""logs: tail capped by the policy, --since, --follow (Ctrl-C → 130, container stops → 0), output sanitised."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.checks import refusal, success
from tests.support.engine import EngineContainers
from tests.support.shell import RSHELL, audit_records, run_rshell

ESCAPES = ("\x1b", "\x07", "\x9b", "\x9d")


def _wait_for_output(containers: EngineContainers, suffix: str, needle: bytes, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while needle not in containers.client.api.logs(containers.name(suffix)):
        assert time.monotonic() < deadline, f"{suffix} never printed {needle!r}"
        time.sleep(0.05)


def test_escape_sequences_never_reach_the_terminal(policy: Path, containers: EngineContainers) -> None:
    _wait_for_output(containers, "ansi", b"cleared")
    outcome = success(run_rshell(policy, "-c", f"logs {containers.name('ansi')}"))
    assert not any(escape in outcome.stdout for escape in ESCAPES), repr(outcome.stdout)
    assert outcome.stdout.splitlines() == ["plain", "red", "after-osc", "cleared"]
    assert "pwned-title" not in outcome.stdout


def test_json_lines_are_sanitised_like_the_terminal(policy: Path, containers: EngineContainers) -> None:
    """--json text fields go through the same sanitiser (an LLM reads them), then are ASCII-escaped."""
    _wait_for_output(containers, "ansi", b"cleared")
    outcome = success(run_rshell(policy, "-c", f"logs {containers.name('ansi')} --json"))
    assert outcome.stdout.isascii()
    assert not any(escape in outcome.stdout for escape in ESCAPES)
    assert "\\u001b" not in outcome.stdout
    assert "pwned-title" not in outcome.stdout
    assert outcome.json()["lines"] == ["plain", "red", "after-osc", "cleared"]


@pytest.mark.parametrize("tail", [1, 3, 2000])
def test_tail_gives_that_many_lines(policy: Path, containers: EngineContainers, tail: int) -> None:
    _wait_for_output(containers, "lines", b"5000\n")
    outcome = success(run_rshell(policy, "-c", f"logs {containers.name('lines')} --tail {tail}"))
    assert outcome.stdout.splitlines() == [str(number) for number in range(5001 - tail, 5001)]


def test_tail_json_reports_the_count(policy: Path, containers: EngineContainers) -> None:
    _wait_for_output(containers, "lines", b"5000\n")
    document = success(run_rshell(policy, "-c", f"logs {containers.name('lines')} --tail=2 --json")).json()
    assert document == {
        "container": containers.name("lines"),
        "id": document["id"],
        "line_count": 2,
        "tail": 2,
        "lines": ["4999", "5000"],
    }


def test_default_tail_is_100(policy: Path, containers: EngineContainers) -> None:
    _wait_for_output(containers, "lines", b"5000\n")
    assert len(success(run_rshell(policy, "-c", f"logs {containers.name('lines')}")).stdout.splitlines()) == 100


@pytest.mark.parametrize("tail", [2001, 10**6, 10**30])
def test_tail_beyond_the_policy_cap_is_denied(
    policy: Path, policy_dir: Path, containers: EngineContainers, tail: int
) -> None:
    outcome = run_rshell(policy, "-c", f"logs {containers.name('lines')} --tail {tail}")
    refusal(outcome, 126, f"--tail {tail} is more than your policy allows (2000 lines)")
    assert outcome.stdout == ""
    assert audit_records(policy_dir)[-1]["exit_code"] == 126


def test_since_keeps_only_newer_lines(policy: Path, containers: EngineContainers) -> None:
    _wait_for_output(containers, "lines", b"5000\n")
    started = containers.client.api.inspect_container(containers.name("lines"))["State"]["StartedAt"]
    age = time.time() - datetime.fromisoformat(started[:26].rstrip("Z") + "+00:00").timestamp()
    if age < 2.5:
        time.sleep(2.5 - age)  # the lines were printed at start; --since 1s must be after them
    name = containers.name("lines")
    newer = success(run_rshell(policy, "-c", f"logs {name} --since 1s --json")).json()
    assert newer["line_count"] == 0
    assert "lines" not in newer
    older = success(run_rshell(policy, "-c", f"logs {name} --since 1h --tail 5 --json")).json()
    assert older["lines"] == ["4996", "4997", "4998", "4999", "5000"]


def test_timestamps_prefix_each_line(policy: Path, containers: EngineContainers) -> None:
    _wait_for_output(containers, "lines", b"5000\n")
    lines = success(run_rshell(policy, "-c", f"logs {containers.name('lines')} --tail 2 --timestamps")).stdout
    for line, number in zip(lines.splitlines(), ("4999", "5000"), strict=True):
        stamp, text = line.split(" ", 1)
        assert text == number
        assert stamp.startswith(datetime.now().strftime("%Y-"))
        assert stamp.endswith("Z")


def test_logs_of_a_stopped_container_is_empty_not_an_error(policy: Path, containers: EngineContainers) -> None:
    assert success(run_rshell(policy, "-c", f"logs {containers.name('stopped')}")).stdout == ""


# --- --follow ---------------------------------------------------------------------------------


@pytest.fixture
def ticker(containers: EngineContainers) -> Iterator[Any]:
    """A visible (label-selected) container that prints a line every 0.1s, made for one test."""
    container = containers.run(
        f"ticker{time.monotonic_ns()}", "while true; do echo tick; sleep 0.1; done", labels={"rshell.visible": "true"}
    )
    yield container
    containers.client.api.remove_container(container.id, force=True)


def _follow(policy: Path, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*RSHELL, "--policy", str(policy), "-c", f"logs {name} --follow --json --tail 1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


def _first_line(process: subprocess.Popen[bytes], seconds: float = 15) -> dict[str, Any]:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    assert ready, "no NDJSON line arrived"
    document: dict[str, Any] = json.loads(process.stdout.readline())
    return document


def test_follow_streams_ndjson_and_stops_with_130_on_ctrl_c(policy: Path, policy_dir: Path, ticker: Any) -> None:
    process = _follow(policy, ticker.name)
    try:
        assert _first_line(process) == {"line": "tick"}
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 130, (process.pid, stdout, stderr)
    assert all(json.loads(line) == {"line": "tick"} for line in stdout.decode().splitlines())
    assert "Traceback" not in stderr.decode()
    assert json.loads(stderr.decode()) == {"error": {"code": "interrupted", "message": "interrupted"}}
    assert audit_records(policy_dir)[-1]["exit_code"] == 130


def test_follow_ends_with_0_when_the_container_stops(policy: Path, ticker: Any, containers: EngineContainers) -> None:
    process = _follow(policy, ticker.name)
    try:
        assert _first_line(process) == {"line": "tick"}
        containers.client.api.kill(ticker.id)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    documents = [json.loads(line) for line in stdout.decode().splitlines()]
    assert documents[-1]["end"] is True
    assert documents[-1]["container"] == ticker.name
    assert all(document == {"line": "tick"} for document in documents[:-1])
    assert stderr == b""
