"""inspect, stats, start and stop through rshelld for a real unprivileged user: nothing hidden, limits per uid."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.broker.conftest import BOUNCE_SCRIPT, Names, own_broker
from tests.broker.harness import RSHELL, Agent, Broker, run_client
from tests.support.checks import refusal, success

BODY = """\
principals:
  users:
    {user}: agent
roles:
  agent:
    verbs: [inspect, stats, start, stop]
    containers:
      labels:
        - rshtest.broker: "{prefix}-agent"
    limits:
      stop: {{count: 1, per: 10m}}
    settings:
      stop: {{stop_timeout: 1s}}
"""


@pytest.fixture
def lifecycle_broker(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=BODY, name="newverbs") as running:
        yield running


@pytest.fixture
def own_container(names: Names) -> Any:
    """A container of this test alone that the agent sees (others in the session must stay running)."""
    return names.containers.run(f"nv{secrets.token_hex(3)}", BOUNCE_SCRIPT, labels=names.agent_labels)


def test_the_agent_sees_only_its_containers(lifecycle_broker: Broker, agent: Agent, names: Names) -> None:
    rows = success(run_client(agent, lifecycle_broker.socket, "-c", "stats --json")).json()["containers"]
    shown = {row["name"] for row in rows}
    assert {names.name("app"), names.name("quiet"), names.name("bounce")} <= shown
    assert shown.isdisjoint({names.name("rootonly"), names.name("hidden")})
    document = success(run_client(agent, lifecycle_broker.socket, "-c", f"inspect {names.name('quiet')} --json"))
    assert document.json()["name"] == names.name("quiet")


@pytest.mark.parametrize("line", ["inspect {rootonly}", "stats {rootonly}", "stop {rootonly}", "start {hidden}"])
def test_a_container_the_agent_cannot_see_is_not_visible(
    line: str, lifecycle_broker: Broker, agent: Agent, names: Names
) -> None:
    text = line.format(rootonly=names.name("rootonly"), hidden=names.name("hidden"))
    refusal(run_client(agent, lifecycle_broker.socket, "-c", text), 126, "is visible to you")
    assert names.containers.client.api.inspect_container(names.name("rootonly"))["State"]["Running"]


def test_stop_is_limited_across_client_processes(
    lifecycle_broker: Broker, agent: Agent, own_container: Any, names: Names
) -> None:
    stopped = success(run_client(agent, lifecycle_broker.socket, "-c", f"stop {own_container.name} --json")).json()
    assert (stopped["state"], stopped["exit_code"]) == ("exited", 0)
    refusal(run_client(agent, lifecycle_broker.socket, "-c", f"stop {own_container.name}"), 126, "limit")
    started = success(run_client(agent, lifecycle_broker.socket, "-c", f"start {own_container.name} --json")).json()
    assert started["state"] == "running"
    assert names.containers.client.api.inspect_container(own_container.id)["State"]["Running"]


def test_stats_of_several_containers_in_the_order_named_and_redrawn_only_on_a_terminal(
    lifecycle_broker: Broker, agent: Agent, names: Names
) -> None:
    socket, quiet, app = lifecycle_broker.socket, names.name("quiet"), names.name("app")
    rootonly = names.name("rootonly")
    rows = success(run_client(agent, socket, "-c", f"stats {quiet} {app} {quiet} --json")).json()["containers"]
    assert [row["name"] for row in rows] == [quiet, app]
    alone = refusal(run_client(agent, socket, "-c", f"stats {rootonly}"), 126)
    assert refusal(run_client(agent, socket, "-c", f"stats {app} {rootonly}"), 126) == alone
    piped = success(run_client(agent, socket, "-c", f"stats {quiet} {app} --watch 1 --count 2")).stdout
    assert "\x1b" not in piped  # the client's stdout is a pipe: the broker is told so and draws no cursor moves
    assert len(piped.split("\n\n")) == 2
    command = [*agent.prefix(), *RSHELL, "--broker", str(socket), "-c", f"stats {quiet} {app} --watch 1 --count 2"]
    child = pexpect.spawn(command[0], command[1:], cwd="/", dimensions=(40, 200))
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    written = child.before.decode("utf-8", "replace").replace("\r\n", "\n")
    assert child.exitstatus == 0, written
    first, second = written.split("\x1b[3F\x1b[J")  # the second table drawn over the first's 3 lines
    for table in (first, second):
        assert [row.split()[0] for row in table.splitlines()[1:]] == [quiet, app]
