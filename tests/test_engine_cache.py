"""The broker's shared container list: one fetch serves concurrent callers; a change drops it."""

from __future__ import annotations

import threading
from typing import Any

from rshell.engine import Engine
from rshell.policy.model import ContainerRule, Role
from rshell.policy.view import PolicyView, Principal
from rshell.targets import resolve_container
from tests.support.engine import ENGINE_URL, EngineContainers


def names(rows: list[dict[str, Any]]) -> set[str]:
    return {str(row["Names"][0]).lstrip("/") for row in rows}


def test_a_local_engine_always_asks_afresh(engine: Any) -> None:
    made = EngineContainers(engine)
    local = Engine(ENGINE_URL, 20)
    try:
        local.containers(include_stopped=True)
        made.run("fresh", "sleep 60", start=False)
        assert made.name("fresh") in names(local.containers(include_stopped=True))
    finally:
        made.remove_all()


def test_the_broker_list_is_shared_until_a_change_drops_it(engine: Any) -> None:
    made = EngineContainers(engine)
    shared = Engine(ENGINE_URL, 20, list_ttl=60.0)
    try:
        first = shared.containers(include_stopped=True)
        made.run("later", "sleep 60", start=False)
        assert shared.containers(include_stopped=True) is first  # within the TTL: the same list
        assert made.name("later") not in names(first)
        shared.forget_containers()  # what the executor does after a state-changing verb
        assert made.name("later") in names(shared.containers(include_stopped=True))
    finally:
        made.remove_all()


def test_concurrent_callers_share_one_fetch(engine: Any) -> None:
    shared = Engine(ENGINE_URL, 20, list_ttl=60.0)
    results: list[list[dict[str, Any]]] = []
    threads = [
        threading.Thread(target=lambda: results.append(shared.containers(include_stopped=False))) for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 20
    assert all(result is results[0] for result in results)


def test_a_container_made_after_the_shared_list_was_fetched_is_still_resolved(engine: Any) -> None:
    """A name missing from the shared list is asked for afresh once (the list may predate it)."""
    made = EngineContainers(engine)
    shared = Engine(ENGINE_URL, 20, list_ttl=60.0)
    try:
        shared.containers(include_stopped=True)  # another caller's fetch, a moment before
        made.run("new", "sleep 60", start=False)
        role = Role("r", frozenset({"logs"}), ContainerRule(names=frozenset({made.name("new")})))
        view = PolicyView(Principal(0, "root", frozenset()), role, "test", ENGINE_URL)
        assert resolve_container(shared, view, made.name("new")).name == made.name("new")
    finally:
        made.remove_all()
