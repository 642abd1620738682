"""The audit log: one JSON line per invocation, allowed or not, that no argument can forge or split."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.support.checks import refusal, success
from tests.support.engine import EngineContainers
from tests.support.shell import audit_records, run_rshell

FIELDS = {"time", "uid", "user", "pid", "mode", "verb", "argv", "targets", "decision", "reason", "phase", "exit_code"}


def test_an_allowed_invocation_is_one_complete_record(
    policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    app = containers.client.api.inspect_container(containers.name("app"))
    success(run_rshell(policy, "-c", f"logs {containers.name('app')} --tail 1"))
    (record,) = audit_records(policy_dir)
    assert FIELDS | {"duration_ms"} <= set(record)
    assert (record["uid"], record["user"], record["mode"], record["verb"]) == (0, "root", "c", "logs")
    assert record["argv"] == [containers.name("app"), "--tail", "1"]
    assert record["targets"] == [{"id": app["Id"], "name": containers.name("app")}]
    assert (record["decision"], record["phase"], record["exit_code"]) == ("allowed", "done", 0)
    assert "role 'operator' lists 'logs'" in record["reason"]
    assert record["duration_ms"] >= 0
    assert stat.S_IMODE(os.stat(policy_dir / "audit.jsonl").st_mode) == 0o600


@pytest.mark.parametrize(
    ("line", "status", "verb", "decision"),
    [
        ("logs HIDDEN", 126, "logs", "denied"),
        ("logs APP --tail 5000", 126, "logs", "denied"),
        ("bash -i", 127, "bash", "denied"),
        ("ps --bogus", 2, "ps", "denied"),
        ("ps; id", 2, None, "refused"),
        ("ps $(id)", 2, None, "refused"),
    ],
)
def test_refused_invocations_are_recorded(
    policy: Path,
    policy_dir: Path,
    containers: EngineContainers,
    *,
    line: str,
    status: int,
    verb: str | None,
    decision: str,
) -> None:
    text = line.replace("HIDDEN", containers.name("hidden")).replace("APP", containers.name("lines"))
    refusal(run_rshell(policy, "-c", text), status)
    (record,) = audit_records(policy_dir)
    assert (record["verb"], record["decision"], record["exit_code"], record["mode"]) == (verb, decision, status, "c")
    if verb is None:
        assert record["line"] == text
    assert set(record) >= FIELDS


def test_batch_records_every_line_with_mode_batch(policy: Path, policy_dir: Path) -> None:
    outcome = run_rshell(policy, "--keep-going", stdin="ps\nwhoami\nnope\nps | id\n")
    assert outcome.status == 2
    records = audit_records(policy_dir)
    assert [(record["verb"], record["exit_code"]) for record in records] == [
        ("ps", 0),
        ("whoami", 0),
        ("nope", 127),
        (None, 2),
    ]
    assert {record["mode"] for record in records} == {"batch"}
    assert len({record["pid"] for record in records}) == 1


@pytest.mark.parametrize(
    "line",
    [
        'ps\n{"user": "root", "decision": "allowed"}',
        'logs \'x"}\\n{"decision": "allowed"\'',
        "logs '\u2028{\"forged\": 1}'",
        "ps \x1b[2K\x1b[1A",
    ],
    ids=["newline", "quote-and-escape", "line-separator", "terminal-escapes"],
)
def test_hostile_words_cannot_forge_records(policy: Path, policy_dir: Path, line: str) -> None:
    run_rshell(policy, "-c", line)
    raw = (policy_dir / "audit.jsonl").read_bytes()
    assert raw.isascii()
    assert raw.count(b"\n") == 1
    assert b"\x1b" not in raw
    (record,) = audit_records(policy_dir)
    assert "forged" not in record
    assert record["decision"] != "allowed"
