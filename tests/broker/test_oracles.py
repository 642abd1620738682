"""No existence oracle through the broker: ID prefixes are matched among the agent's visible containers
only, and a label an image carries does not make its containers visible unless the policy says so."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from rshell.targets import NOT_VISIBLE
from tests.broker.conftest import Names, own_broker
from tests.broker.harness import Agent, Broker, run_client
from tests.support.checks import refusal, success
from tests.support.engine import IMAGE, EngineContainers

ORACLE_POLICY = """\
principals:
  users:
    {user}: agent
roles:
  agent:
    verbs: [ps, logs]
    containers:
      labels:
        - rshtest.oracle: "{prefix}-seen"
"""
#: the same role, but selectors also match labels the container inherited from its image
ANY_SOURCE_POLICY = ORACLE_POLICY + "      label_source: any\n"


@dataclass(frozen=True)
class Oracle:
    """seen (visible by its own label), twin (hidden, its ID starts like seen's) and inherited
    (no label of its own; its image carries the agent's selector label)."""

    containers: EngineContainers
    seen: str
    twin: str
    inherited: str

    def name(self, suffix: str) -> str:
        return self.containers.name(suffix)


@pytest.fixture(scope="module")
def oracle(engine: Any) -> Iterator[Oracle]:
    made = EngineContainers(engine)
    label = {"rshtest.oracle": f"{made.prefix}-seen"}
    seen = made.run("seen", "echo seen-ready; sleep 3600", labels=label)
    twin = next(
        (
            twin
            for attempt in range(200)
            if (twin := made.run(f"twin{attempt}", "true", start=False)).id[0] == seen.id[0]
        ),
        None,
    )
    assert twin is not None, "could not make a hidden container whose ID starts like the visible one's"
    base = engine.containers.create(IMAGE, ["true"])
    image = f"rshtest-oracle:{made.prefix}"
    engine.api.commit(base.id, repository="rshtest-oracle", tag=made.prefix, changes=[f"LABEL {_pair(label)}"])
    base.remove()
    inherited = engine.containers.create(image, ["sh", "-c", "echo inherited-ready; sleep 3600"], name=made.name("inh"))
    made.made.append(inherited.id)
    inherited.start()
    try:
        yield Oracle(made, seen.id, twin.id, inherited.id)
    finally:
        made.remove_all()
        with contextlib.suppress(docker.errors.APIError):
            engine.api.remove_image(image, force=True)


def _pair(labels: dict[str, str]) -> str:
    ((key, value),) = labels.items()
    return f"{key}={value}"


@pytest.fixture(scope="module")
def oracle_broker(
    agent: Agent, names: Names, oracle: Oracle, socket_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Broker]:
    body = ORACLE_POLICY.replace("{prefix}", oracle.containers.prefix)
    etc = tmp_path_factory.mktemp("oracle") / "etc"
    with own_broker(agent, names, socket_dir, etc, body=body, name="oracle") as running:
        yield running


def _shared(oracle: Oracle) -> str:
    """The longest prefix the visible container's ID shares with the hidden twin's."""
    return next(oracle.seen[:n] for n in range(1, 64) if oracle.twin[: n + 1] != oracle.seen[: n + 1])


def _absent(length: int, oracle: Oracle) -> str:
    """A hex ID prefix no container the agent sees starts with."""
    first = next(char for char in "0123456789abcdef" if char != oracle.seen[0])
    return (first + secrets.token_hex(32))[:length]


def test_prefix_shared_with_a_hidden_container_names_the_visible_one(
    oracle_broker: Broker, agent: Agent, oracle: Oracle
) -> None:
    """Before, the engine called the prefix ambiguous, which told the agent a hidden ID starts with it."""
    shared = _shared(oracle)
    outcome = success(run_client(agent, oracle_broker.socket, "-c", f"logs {shared} --tail 1 --json"))
    assert outcome.json()["container"] == oracle.name("seen")
    assert "seen-ready" in outcome.stdout


#: text naming only the hidden twin, each beside text that names nothing at all
HIDDEN_ONLY: dict[str, Callable[[Oracle], tuple[str, str]]] = {
    "one-char-past-shared": lambda o: (o.twin[: len(_shared(o)) + 1], _absent(len(_shared(o)) + 1, o)),
    "short-id": lambda o: (o.twin[:12], _absent(12, o)),
    "full-id": lambda o: (o.twin, _absent(64, o)),
    "name": lambda o: (_twin_name(o), o.name("never-made")),
}


def _twin_name(oracle: Oracle) -> str:
    client = oracle.containers.client
    return str(client.api.inspect_container(oracle.twin)["Name"]).lstrip("/")


@pytest.mark.parametrize("make", list(HIDDEN_ONLY.values()), ids=list(HIDDEN_ONLY))
def test_hidden_only_text_is_denied_exactly_like_text_naming_nothing(
    oracle_broker: Broker, agent: Agent, oracle: Oracle, make: Callable[[Oracle], tuple[str, str]]
) -> None:
    hidden, absent = make(oracle)
    for text in (hidden, absent):
        message = refusal(run_client(agent, oracle_broker.socket, "-c", f"logs {text}"), 126)
        assert message == NOT_VISIBLE.format(text=text)
        error = refusal(run_client(agent, oracle_broker.socket, "-c", f"logs {text} --json"), 126, json_error=True)
        assert error == NOT_VISIBLE.format(text=text)


def test_a_label_inherited_from_the_image_does_not_make_a_container_visible(
    oracle_broker: Broker, agent: Agent, oracle: Oracle
) -> None:
    shown = success(run_client(agent, oracle_broker.socket, "-c", "ps --all --json")).json()["containers"]
    assert [row["name"] for row in shown] == [oracle.name("seen")]
    for text in (oracle.name("inh"), oracle.inherited[:12]):
        message = refusal(run_client(agent, oracle_broker.socket, "-c", f"logs {text}"), 126)
        assert message == NOT_VISIBLE.format(text=text)


def test_label_source_any_lets_image_labels_select(
    agent: Agent, names: Names, oracle: Oracle, socket_dir: Path, tmp_path: Path
) -> None:
    body = ANY_SOURCE_POLICY.replace("{prefix}", oracle.containers.prefix)
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=body, name="oracle-any") as running:
        shown = success(run_client(agent, running.socket, "-c", "ps --all --json")).json()["containers"]
        assert sorted(row["name"] for row in shown) == sorted([oracle.name("seen"), oracle.name("inh")])
        outcome = success(run_client(agent, running.socket, "-c", f"logs {oracle.name('inh')} --tail 1"))
        assert "inherited-ready" in outcome.stdout
