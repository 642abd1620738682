"""AuditLog itself: reopened after logrotate, capped per uid per window, summaries that count the rest."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from rshell.audit import AuditLog
from rshell.auditlog.volume import AuditVolume

CAP = AuditVolume(max_bytes=4096, per_seconds=60.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused(uid: int = 1000, verb: str = "nope", size: int = 600) -> dict[str, Any]:
    return {"uid": uid, "user": f"u{uid}", "verb": verb, "argv": ["x" * size], "decision": "denied", "exit_code": 127}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(tmp_path: Path, clock: Clock) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl", CAP, clock=clock)


def test_records_past_the_cap_are_counted_and_summarised_when_the_window_ends(
    log: AuditLog, clock: Clock, tmp_path: Path
) -> None:
    for _ in range(100):
        log.write(refused())
    written = lines(tmp_path / "audit.jsonl")
    assert 3 <= len(written) < 100
    assert (tmp_path / "audit.jsonl").stat().st_size <= CAP.max_bytes
    clock.now += 60
    log.write(refused(size=1))
    *_, summary, after = lines(tmp_path / "audit.jsonl")
    assert (summary["phase"], summary["uid"], summary["suppressed"]) == ("summary", 1000, 100 - len(written))
    assert summary["counts"] == [{"verb": "nope", "decision": "denied", "exit_code": 127, "count": 100 - len(written)}]
    assert summary["reason"].startswith(f"{100 - len(written)} records suppressed: over the audit cap of 4096 bytes")
    assert after["argv"] == ["x"]


def test_a_state_change_is_written_whatever_the_volume(log: AuditLog, tmp_path: Path) -> None:
    for _ in range(50):
        log.write(refused())
    before = len(lines(tmp_path / "audit.jsonl"))
    log.write({"uid": 1000, "verb": "restart", "phase": "intent"}, sync=True)
    log.write({"uid": 1000, "verb": "restart", "phase": "done"}, essential=True)
    log.write(refused())
    assert [record.get("phase") for record in lines(tmp_path / "audit.jsonl")[before:]] == ["intent", "done"]


def test_one_users_flood_does_not_silence_another(log: AuditLog, tmp_path: Path) -> None:
    for _ in range(50):
        log.write(refused(uid=1000))
    log.write(refused(uid=1001, verb="ps"))
    assert lines(tmp_path / "audit.jsonl")[-1]["uid"] == 1001


def test_flush_writes_the_summary_of_an_open_window_once(log: AuditLog, tmp_path: Path) -> None:
    for _ in range(20):
        log.write(refused())
    log.flush()
    log.flush()
    summaries = [record for record in lines(tmp_path / "audit.jsonl") if record.get("phase") == "summary"]
    assert len(summaries) == 1
    assert summaries[0]["suppressed"] == 20 - (len(lines(tmp_path / "audit.jsonl")) - 1)


@pytest.mark.parametrize("rotation", ["renamed", "unlinked", "replaced"])
def test_a_rotated_log_is_reopened_at_its_path(log: AuditLog, tmp_path: Path, rotation: str) -> None:
    path = tmp_path / "audit.jsonl"
    log.write({"uid": 0, "verb": "first"})
    if rotation == "renamed":
        path.rename(tmp_path / "audit.jsonl.1")
    elif rotation == "unlinked":
        path.unlink()
    else:
        (tmp_path / "fresh").write_text("")
        os.replace(tmp_path / "fresh", path)
    log.write({"uid": 0, "verb": "second"})
    assert [record["verb"] for record in lines(path)] == ["second"]
    if rotation == "renamed":
        assert [record["verb"] for record in lines(tmp_path / "audit.jsonl.1")] == ["first"]
