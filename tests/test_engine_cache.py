"""The broker's shared container list: one fetch serves concurrent callers; a change drops it."""

from __future__ import annotations

import threading
from typing import Any

from rshell.engine import Engine
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
