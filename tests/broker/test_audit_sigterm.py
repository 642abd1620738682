"""SIGTERM flushes the audit log: a suppressed flood's summary is written before rshelld exits
(its main() ends with os._exit, so nothing at interpreter exit would write it)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.broker.conftest import Names, own_broker
from tests.broker.harness import Agent, run_client

#: the agent may run ps; audit volume 4 KiB per hour, so a flood of refusals is mostly suppressed
BODY = """\
audit: {{max_bytes: 4KiB, per: 1h}}
principals:
  users:
    {user}: agent
roles:
  agent:
    verbs: [ps]
    containers:
      labels:
        - rshtest.broker: "{prefix}-agent"
"""
FLOOD = 120


def test_sigterm_writes_the_summary_of_a_suppressed_flood(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=BODY, name="audit-term") as broker:
        lines = "".join(f"nope{index} {'x' * 200}\n" for index in range(FLOOD))
        outcome = run_client(agent, broker.socket, "--keep-going", stdin=lines, timeout=120)
        assert outcome.status == 127, outcome.stderr[-300:]
        path = broker.policy.parent / "audit.jsonl"
        before = [json.loads(line) for line in path.read_text().splitlines()]
        assert [record for record in before if record["phase"] == "summary"] == []  # not yet: the window is open
        assert broker.stop() == 0
    found = [json.loads(line) for line in path.read_text().splitlines()]
    (summary,) = [record for record in found if record["phase"] == "summary"]
    written = [record for record in found if record["phase"] != "summary"]
    assert summary["uid"] == agent.uid
    assert summary["suppressed"] == FLOOD - len(written) > FLOOD // 2
    assert {(entry["decision"], entry["exit_code"]) for entry in summary["counts"]} == {("denied", 127)}
