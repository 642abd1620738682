"""SIGHUP: a valid policy takes effect at once; an invalid one is refused with a log line, the old one stays."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.broker.conftest import POLICY, Names, own_broker
from tests.broker.harness import Agent, Broker, run_client, wait_for
from tests.support.checks import refusal, success

REJECTED = "policy reload rejected"
RELOADED = "policy reloaded"
#: the session's policy, but the agent may only run ps
PS_ONLY = POLICY.replace("  agent:\n    verbs: [ps, logs, restart]", "  agent:\n    verbs: [ps]")


@pytest.fixture
def reloadable(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    """A broker of its own, so that changing its policy touches no other test."""
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=PS_ONLY, name="reload") as running:
        yield running


def reload_and_wait(broker: Broker, marker: str) -> str:
    """Send SIGHUP and wait for the broker's next ``marker`` line; return that line."""
    seen = broker.stderr().count(marker)
    broker.reload()
    assert wait_for(lambda: broker.stderr().count(marker) > seen, 10), broker.stderr()
    return [line for line in broker.stderr().splitlines() if marker in line][-1]


INVALID: list[tuple[str, Callable[[str], str], int]] = [
    ("an unknown key", lambda text: text.replace("    verbs: [ps, logs]", "    verbz: [ps, logs, restart]"), 0o600),
    ("a verb list that is not a list", lambda text: text.replace("verbs: [ps, logs]", "verbs: 7"), 0o600),
    ("YAML that does not parse", lambda text: text + "roles: [\n", 0o600),
    ("a group-writable file", lambda text: text.replace("verbs: [ps, logs]", "verbs: [ps, logs, restart]"), 0o620),
]


def test_sighup_applies_a_valid_policy_and_keeps_it_over_invalid_ones(
    reloadable: Broker, agent: Agent, names: Names
) -> None:
    logs = f"logs {names.name('quiet')} --tail 1"
    refusal(run_client(agent, reloadable.socket, "-c", logs), 126, "does not allow 'logs'")

    valid = reloadable.policy.read_text().replace("    verbs: [ps]\n", "    verbs: [ps, logs]\n", 1)
    reloadable.policy.write_text(valid)
    reload_and_wait(reloadable, RELOADED)
    assert "quiet-ready" in success(run_client(agent, reloadable.socket, "-c", logs)).stdout

    for _name, change, mode in INVALID:
        reloadable.policy.write_text(change(valid))
        reloadable.policy.chmod(mode)
        line = reload_and_wait(reloadable, REJECTED)
        assert "previous policy stays in force" in line
        assert success(run_client(agent, reloadable.socket, "-c", logs))
        refusal(run_client(agent, reloadable.socket, "-c", f"restart {names.name('bounce')}"), 126, "restart")
        reloadable.policy.chmod(0o600)
    assert reloadable.process.poll() is None
    assert "Traceback" not in reloadable.stderr()
