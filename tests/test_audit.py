"""The audit log: one JSON line per invocation, allowed or not, that no argument can forge, split or flood."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from rshell.audit import MAX_ARGUMENT_CHARS, MAX_TEXT_CHARS
from rshell.auditlog.volume import MAX_SUMMARY_KINDS
from tests.support.checks import refusal, success
from tests.support.engine import EngineContainers
from tests.support.shell import RSHELL, as_user, audit_records, run_rshell, write_shared_policy

NOBODY = as_user("nobody", "nogroup")

FIELDS = {
    "time",
    "uid",
    "user",
    "pid",
    "mode",
    "mode_source",
    "verb",
    "argv",
    "targets",
    "decision",
    "reason",
    "phase",
    "exit_code",
}


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


UNWRITABLE_LINES = [
    pytest.param("ps", id="ps"),
    pytest.param("ps --json", id="ps-json"),
    pytest.param("logs APP --tail 3", id="logs"),
    pytest.param("whoami", id="whoami"),
    pytest.param("help", id="help"),
    pytest.param("nope", id="unknown-verb"),
]


@pytest.mark.parametrize("line", UNWRITABLE_LINES)
@pytest.mark.parametrize("how", ["a-directory", "below-a-file"])
def test_an_unwritable_audit_log_refuses_before_any_output(
    policy: Path, policy_dir: Path, containers: EngineContainers, line: str, how: str
) -> None:
    audit = policy_dir / "audit.jsonl"
    if how == "a-directory":
        audit.mkdir()
    else:
        moved = policy_dir / "not-a-directory"
        moved.write_text("")
        policy.write_text(policy.read_text().replace(str(audit), f"{moved}/audit.jsonl"))
        audit = moved / "audit.jsonl"
    outcome = run_rshell(policy, "-c", line.replace("APP", containers.name("app")))
    reason = "Is a directory" if how == "a-directory" else "Not a directory"
    refusal(outcome, 1, f"cannot write the audit log {audit}: {reason}; refusing to act", json_error="--json" in line)
    assert outcome.stdout == ""


def test_an_audit_log_an_unprivileged_user_cannot_open_refuses_ps(public_dir: Path) -> None:
    body = "principals: {users: {nobody: r}}\nroles:\n  r: {verbs: [ps]}\n"
    policy, var = write_shared_policy(public_dir, body, writer_uid=65534)
    (var / "audit.jsonl").write_text("")
    (var / "audit.jsonl").chmod(0o600)  # root's: nobody may not append
    outcome = run_rshell(policy, "-c", "ps", prefix=NOBODY)
    refusal(outcome, 1, f"cannot write the audit log {var}/audit.jsonl: Permission denied; refusing to act")
    assert outcome.stdout == ""


def test_long_arguments_are_cut_and_their_lengths_kept(policy: Path, policy_dir: Path) -> None:
    word = "A" * 4000
    refusal(run_rshell(policy, "-c", f"logs {word} --tail 1"), 2)
    refusal(run_rshell(policy, "-c", f"{word} --tail 1"), 127)
    refusal(run_rshell(policy, "-c", f"ps; {word}"), 2)
    usage, unknown, refused = audit_records(policy_dir)
    assert usage["argv"] == ["A" * MAX_ARGUMENT_CHARS, "--tail", "1"]
    assert usage["argv_lengths"] == [4000, 6, 1]
    assert unknown["verb"] == f"{'A' * MAX_TEXT_CHARS}...(4000 characters)"
    assert len(unknown["reason"]) < MAX_TEXT_CHARS + 40
    assert refused["line"] == f"ps; {word}"[:MAX_ARGUMENT_CHARS]
    assert refused["line_length"] == 4004
    assert all(len(line) < 3000 for line in (policy_dir / "audit.jsonl").read_text().splitlines())


def test_a_short_argument_has_no_lengths(policy: Path, policy_dir: Path) -> None:
    run_rshell(policy, "-c", "ps --all")
    (record,) = audit_records(policy_dir)
    assert record["argv"] == ["--all"]
    assert "argv_lengths" not in record


def test_a_local_record_has_the_shells_own_pid(policy: Path, policy_dir: Path) -> None:
    process = subprocess.Popen(
        [*RSHELL, "--policy", str(policy), "-c", "ps"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    assert process.wait(timeout=60) == 0
    (record,) = audit_records(policy_dir)
    assert (record["pid"], record["mode"], record["mode_source"]) == (process.pid, "c", "local")


def test_a_batch_flood_of_refused_lines_stays_under_the_cap(policy: Path, policy_dir: Path) -> None:
    """audit: {max_bytes: 8KiB}: 300 refused 4,000-character lines write at most 8 KiB of records, and
    the summary written at exit counts every line left out."""
    policy.write_text(policy.read_text() + "audit: {max_bytes: 8KiB, per: 1h}\n")
    lines = [f"nope{index} {'B' * 4000}" if index % 2 else f"ps; {'C' * 4000}" for index in range(300)]
    outcome = run_rshell(policy, "--keep-going", stdin="\n".join(lines) + "\n", timeout=120)
    assert outcome.status == 127
    records = audit_records(policy_dir)
    summaries = [record for record in records if record["phase"] == "summary"]
    written = [record for record in records if record["phase"] != "summary"]
    (summary,) = summaries
    assert summary["suppressed"] == 300 - len(written)
    assert sum(entry["count"] for entry in summary["counts"]) == summary["suppressed"]
    kinds = {(entry["decision"], entry["exit_code"]) for entry in summary["counts"]}
    assert kinds == {("refused", 2), ("denied", 127)}
    assert len(summary["counts"]) <= MAX_SUMMARY_KINDS + 2  # 150 distinct verbs: the rest are "(other)"
    assert f"{summary['suppressed']} records suppressed" in summary["reason"]
    raw = (policy_dir / "audit.jsonl").read_bytes().splitlines(keepends=True)
    assert sum(len(line) for line in raw[:-1]) <= 8 * 1024
    assert 5 <= len(written) < 40
