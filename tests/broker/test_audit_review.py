"""``rshellctl audit`` and ``audit verify`` on a log real verbs wrote through a real broker: one line per
action, filters, and a chain that shows an edited, a deleted and a reordered record (and what it cannot)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.broker.conftest import Names
from tests.broker.harness import PYTHON, Agent, Broker, run_client
from tests.broker.test_approvals import agent_line, approving, ctl, finish, pending_id, people
from tests.support.checks import success
from tests.support.shell import Outcome

__all__ = ["approving", "people"]  # fixtures this module shares with test_approvals


def rshellctl(*args: str) -> Outcome:
    """rshellctl as root (the log is root's alone)."""
    completed = subprocess.run([*PYTHON, "-m", "rshell.ctl", *args], capture_output=True, check=False)
    return Outcome(completed.returncode, completed.stdout.decode(), completed.stderr.decode())


@pytest.fixture(scope="module")
def real_log(agent: Agent, names: Names, approving: Broker, people: tuple[Agent, Agent]) -> Path:
    """The broker's log after ps, a denied line, and an approved restart, all by the agent."""
    approver, _third = people
    for _ in range(3):
        success(run_client(agent, approving.socket, "-c", "ps"))
    assert run_client(agent, approving.socket, "-c", "logs x").status == 126
    process = agent_line(agent, approving, f"restart {names.name('bounce')} --reason audit")
    assert ctl(approver, approving, "approve", pending_id(approving, approver)).status == 0
    assert finish(process).status == 0
    success(run_client(agent, approving.socket, "-c", "ps"))
    return approving.policy.parent / "audit.jsonl"


def copied(real_log: Path, tmp_path: Path, change: Callable[[list[bytes]], list[bytes]]) -> Path:
    lines = real_log.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 8
    target = tmp_path / "audit.jsonl"
    target.write_bytes(b"".join(change(lines)))
    return target


def edit(lines: list[bytes]) -> list[bytes]:
    lines[3] = lines[3].replace(b'"ps"', b'"PS"', 1) if b'"ps"' in lines[3] else lines[3].replace(b"{", b'{"x": 1, ', 1)
    return lines


def swap(lines: list[bytes]) -> list[bytes]:
    lines[3], lines[4] = lines[4], lines[3]
    return lines


def test_an_untouched_copy_verifies(real_log: Path, tmp_path: Path) -> None:
    count = len(real_log.read_bytes().splitlines())
    outcome = rshellctl("audit", "verify", str(copied(real_log, tmp_path, lambda lines: lines)), "--last")
    assert outcome.status == 0, outcome.stdout
    assert f"OK: {count} records linked" in outcome.stdout
    assert "last: " in outcome.stdout


@pytest.mark.parametrize(
    ("change", "broken_line"),
    [
        (edit, 5),  # line 4 edited: line 5 names the hash line 4 had
        (lambda lines: lines[:3] + lines[4:], 4),  # line 4 deleted
        (swap, 4),  # lines 4 and 5 swapped
        (lambda lines: [*lines[:3], lines[2], *lines[3:]], 4),  # a record replayed
    ],
    ids=["edited", "deleted", "reordered", "duplicated"],
)
def test_verify_finds_the_first_broken_link(
    real_log: Path, tmp_path: Path, change: Callable[[list[bytes]], list[bytes]], broken_line: int
) -> None:
    path = copied(real_log, tmp_path, change)
    outcome = rshellctl("audit", "verify", str(path))
    assert outcome.status == 1
    assert f"BROKEN at {path}:{broken_line}: " in outcome.stdout, outcome.stdout


def test_rotated_files_verify_in_order_and_a_cut_tail_needs_an_anchor(real_log: Path, tmp_path: Path) -> None:
    path = copied(real_log, tmp_path, lambda lines: lines)
    lines = path.read_bytes().splitlines(keepends=True)
    Path(f"{path}.2").write_bytes(b"".join(lines[:2]))  # as logrotate leaves them: .2 older than .1
    Path(f"{path}.1").write_bytes(b"".join(lines[2:5]))
    path.write_bytes(b"".join(lines[5:]))
    anchor = rshellctl("audit", "verify", str(path), "--last")
    assert anchor.status == 0
    assert f"OK: {len(lines)} records linked in 3 file(s)" in anchor.stdout
    last_hash = anchor.stdout.split("last: ")[1].split()[0]
    path.write_bytes(b"".join(lines[5:-2]))  # the tail cut off: the chain alone cannot tell
    assert rshellctl("audit", "verify", str(path)).status == 0
    cut = rshellctl("audit", "verify", str(path), "--expect", last_hash)
    assert cut.status == 1
    assert "not in the chain" in cut.stdout
    shutil.move(f"{path}.1", f"{path}.3")  # out of order: .3 now reads before .2
    assert rshellctl("audit", "verify", str(path)).status == 1


def test_actions_join_intent_and_done_and_filter(real_log: Path, agent: Agent, names: Names) -> None:
    restarts = rshellctl("audit", str(real_log), "--user", agent.user, "--verb", "restart", "--since", "1h", "--json")
    assert restarts.status == 0
    actions = [json.loads(line) for line in restarts.stdout.splitlines()]
    done = [a for a in actions if a["decision"] == "allowed"]
    assert len(done) == 1
    assert done[0]["exit"] == 0
    assert done[0]["target"] == names.name("bounce")
    assert isinstance(done[0]["duration_ms"], float)
    assert {a["decision"] for a in actions} == {"allowed", "approval requested", "approval ran"}
    everyone = rshellctl("audit", str(real_log)).stdout.splitlines()
    assert any(" ps " in line and "exit 0" in line for line in everyone)
    assert any(" logs " in line and "denied exit 126" in line for line in everyone)
    assert any("approval approved" in line for line in everyone)  # the approver's step, by the approver
    assert rshellctl("audit", str(real_log), "--user", "nobody-here").stdout == ""


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (("audit", "--since", "soon"), 2),
        (("audit", "--user"), 2),
        (("audit", "verify", "--bogus"), 2),
        (("audit", "/nonexistent/audit.jsonl"), 1),
        (("audit", "verify", "/nonexistent/audit.jsonl"), 1),
    ],
)
def test_bad_audit_arguments(args: tuple[str, ...], status: int) -> None:
    outcome = rshellctl(*args)
    assert outcome.status == status
    assert "Traceback" not in outcome.stderr
