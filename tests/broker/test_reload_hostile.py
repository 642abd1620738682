"""Hostile structure given to a real broker: a policy nested thousands of levels deep, or one that
would expand into a huge structure, on SIGHUP; JSON requests nested deep. Each is refused in one
line, the old policy stays in force, and the broker keeps serving. One row per attack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker.conftest import POLICY, Names, own_broker
from tests.broker.harness import CRAFTED_CLIENT, Agent, Broker, decode_replies, run_as, run_client, wait_for
from tests.support.checks import refusal, success

REJECTED = "policy reload rejected, the previous policy stays in force"
#: the session's policy, but the agent may run ps only: a policy that allowed logs would show it
PS_ONLY = POLICY.replace("  agent:\n    verbs: [ps, logs, restart]", "  agent:\n    verbs: [ps]")
LAUGHS = "".join(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 10))

#: (name, what is appended to a policy that would allow logs, what the broker log says about it)
POLICIES = [
    ("a list nested 5,000 levels deep", "x: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 50 levels"),
    ("a mapping nested 5,000 levels deep", "x: " + "{a: " * 5000 + "}" * 5000 + "\n", "nested deeper than 50 levels"),
    ("billion laughs", "l0: &l0 [lol]\n" + LAUGHS, "anchors and aliases are not allowed"),
]


@pytest.fixture
def reloadable(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=PS_ONLY, name="reload-hostile") as running:
        yield running


@pytest.mark.parametrize("row", POLICIES, ids=[row[0] for row in POLICIES])
def test_a_hostile_policy_on_sighup_is_rejected_and_the_old_one_serves(
    reloadable: Broker, agent: Agent, names: Names, row: tuple[str, str, str]
) -> None:
    name, tail, logged = row
    with_logs = reloadable.policy.read_text().replace("    verbs: [ps]\n", "    verbs: [ps, logs]\n", 1)
    assert "verbs: [ps, logs]" in with_logs, name
    reloadable.policy.write_text(with_logs + tail)
    seen = reloadable.stderr().count(REJECTED)
    reloadable.reload()
    assert wait_for(lambda: reloadable.stderr().count(REJECTED) > seen, 30), reloadable.stderr()[-2000:]
    [line] = [line for line in reloadable.stderr().splitlines() if REJECTED in line][seen:]
    assert logged in line
    assert len(line) < 1000
    success(run_client(agent, reloadable.socket, "-c", "ps"))
    refusal(run_client(agent, reloadable.socket, "-c", f"logs {names.name('quiet')}"), 126, "does not allow 'logs'")
    assert reloadable.process.poll() is None
    assert "Traceback" not in reloadable.stderr()


#: JSON the broker's parser accepts only within its nesting limit; deeper is a protocol error
REQUESTS = [
    ("op nested 900 levels", b'{"v": 1, "op": ' + b"[" * 900 + b"]" * 900 + b"}\n"),
    ("line nested 900 levels", b'{"v": 1, "op": "run", "mode": "c", "line": ' + b"[" * 900 + b"]" * 900 + b"}\n"),
    ("tty nested 30,000 levels", b'{"v": 1, "op": "run", "line": "ps", "tty": ' + b"[" * 30_000 + b"}\n"),
]


@pytest.mark.parametrize("payload", [row[1] for row in REQUESTS], ids=[row[0] for row in REQUESTS])
def test_a_deeply_nested_request_is_a_protocol_error(reloadable: Broker, agent: Agent, payload: bytes) -> None:
    outcome = run_as(agent, CRAFTED_CLIENT, str(reloadable.socket), "full", stdin=payload)
    replies = decode_replies(bytes.fromhex(outcome.stdout.strip()))
    assert [(reply.get("op"), reply.get("status"), reply.get("error", {}).get("code")) for reply in replies] == [
        ("end", 2, "protocol")
    ], replies
    success(run_client(agent, reloadable.socket, "-c", "ps"))
    assert "Traceback" not in reloadable.stderr()
