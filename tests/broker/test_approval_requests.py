"""The agent's side of approvals through a real broker: its own ``requests``, the ``max_pending`` cap, and
``rshellctl audit --follow`` / ``--until`` on the log those steps wrote."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import Names
from tests.broker.harness import PYTHON, Agent, Broker, run_client
from tests.broker.test_approvals import APPROVERS_GROUP, BODY, ctl, people
from tests.support.shell import audit_records, write_policy

__all__ = ["people"]  # the approver and third user, shared with test_approvals

#: BODY with the approver also holding the agent role (so "own requests" has someone else's to hide)
#: and a cap of two pending requests per requester
CAPPED = BODY.replace("    {agent}: agent\n", "    {agent}: agent\n    {approver}: agent\n")
CAPPED = CAPPED.replace("ttl: {ttl}, wait: {wait}}}", "ttl: {ttl}, wait: {wait}, max_pending: 2}}")


@pytest.fixture(scope="module")
def capped(
    agent: Agent, names: Names, socket_dir: Path, tmp_path_factory: pytest.TempPathFactory, people: Any
) -> Iterator[Broker]:
    approver, _third = people
    body = CAPPED.format(
        agent=agent.user, approver=approver.user, prefix=names.prefix, group=APPROVERS_GROUP, ttl="60s", wait="1s"
    )
    policy = write_policy(tmp_path_factory.mktemp("capped") / "etc", body)
    running = Broker(policy, socket_dir / "capped.sock", agent.group, socket_dir / "capped.log")
    yield running
    running.stop()


def mine(user: Agent, broker: Broker) -> list[dict[str, Any]]:
    outcome = run_client(user, broker.socket, "-c", "requests --json")
    assert outcome.status == 0, outcome.stderr
    return list(outcome.json()["requests"])


def test_requests_lists_only_the_callers_own_and_the_cap_refuses_a_third(
    agent: Agent, names: Names, capped: Broker, people: Any
) -> None:
    approver, _third = people
    assert run_client(agent, capped.socket, "-c", "requests").stdout.strip() == "you have no approval requests"
    bounce, quiet, app = names.name("bounce"), names.name("quiet"), names.name("app")
    for container, reason in ((bounce, "one"), (quiet, "two")):
        outcome = run_client(agent, capped.socket, "-c", f"restart {container} --reason {reason}")
        assert outcome.status == 75, outcome.stderr
    again = run_client(agent, capped.socket, "-c", f"restart {bounce} --reason one")
    assert again.status == 75  # the same action reuses its open request: not counted twice
    third = run_client(agent, capped.socket, "-c", f"restart {app} --reason three")
    assert third.status == 126
    assert third.stderr.count("\n") == 1
    assert "2 pending approval requests, the most allowed (approval.max_pending)" in third.stderr
    refused = [r for r in audit_records(capped.policy.parent) if r.get("phase") == "done" and r["exit_code"] == 126]
    assert [(r["verb"], r["targets"][0]["name"], "max_pending" in r["error"]) for r in refused] == [
        ("restart", app, True)
    ]
    rows = mine(agent, capped)
    assert [(r["verb"], r["target"], r["state"], r["reason"]) for r in rows] == [
        ("restart", quiet, "pending", "two"),
        ("restart", bounce, "pending", "one"),
    ]
    assert all(r["decided_by"] is None and r["expires"] > time.time() for r in rows)
    assert mine(approver, capped) == []  # another requester's requests are not the approver's own
    assert ctl(approver, capped, "deny", rows[0]["id"], "--reason", "not now").status == 0
    table = run_client(agent, capped.socket, "-c", "requests").stdout.splitlines()
    assert table[0].split() == ["ID", "VERB", "TARGET", "STATE", "REASON", "DECIDED", "BY", "EXPIRES"]
    denied = next(line for line in table if line.startswith(rows[0]["id"]))
    assert denied.split()[1:6] == ["restart", quiet, "denied", "two", approver.user]
    allowed = run_client(agent, capped.socket, "-c", f"restart {app} --reason three")
    assert allowed.status == 75  # one fewer pending: a new request may be made again


def rshellctl_audit(*args: str) -> subprocess.Popen[str]:
    command = [*PYTHON, "-m", "rshell.ctl", "audit", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_audit_follow_prints_new_actions_and_until_leaves_them_out(agent: Agent, capped: Broker) -> None:
    log = str(capped.policy.parent / "audit.jsonl")
    assert run_client(agent, capped.socket, "-c", "ps").status == 0
    before = time.time()
    follow = rshellctl_audit(log, "--follow", "--json", "--verb", "logs")
    lines: queue.Queue[dict[str, Any]] = queue.Queue()

    def read() -> None:
        for line in follow.stdout or []:
            lines.put(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    try:
        time.sleep(0.5)  # not a timed assertion: only lets the follower reach the end of the file first
        assert run_client(agent, capped.socket, "-c", "logs nope").status == 126
        action = lines.get(timeout=20)
        assert (action["user"], action["verb"], action["decision"], action["exit"]) == (
            agent.user,
            "logs",
            "denied",
            126,
        )
        assert run_client(agent, capped.socket, "-c", "logs nope").status == 126
        assert lines.get(timeout=20)["time"] > action["time"]  # each new action, as it is written
    finally:
        follow.send_signal(signal.SIGINT)
        assert follow.wait(timeout=20) == 130
    moment = datetime.fromtimestamp(before, UTC).isoformat()
    earlier = subprocess.run(
        [*PYTHON, "-m", "rshell.ctl", "audit", log, "--until", moment, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert earlier.returncode == 0, earlier.stderr
    verbs = {json.loads(line)["verb"] for line in earlier.stdout.splitlines()}
    assert "ps" in verbs
    assert "logs" not in verbs


@pytest.mark.parametrize(
    "args",
    [("--until", "yesterday"), ("--until",), ("--follow", "--until", "1h")],
)
def test_bad_until_and_follow_arguments_are_usage_errors(capped: Broker, args: tuple[str, ...]) -> None:
    process = rshellctl_audit(str(capped.policy.parent / "audit.jsonl"), *args)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "Traceback" not in err
    assert err.count("\n") == 1
