"""A service's log stream from the engine, each line prefixed with its task and node as docker shows it.

The stream is ``GET /services/{id}/logs`` with ``details=1``: the engine then starts each line
(after the timestamp, when asked for) with ``com.docker.swarm.node.id=…,…service.id=…,…task.id=…``
and a space; that is turned into ``NAME.SLOT.TASK@NODE | `` as ``docker service logs`` prints it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from rshell.engine import Engine
from rshell.logstream import _body_blocks, demultiplex
from rshell.swarm.listing import node_names, service_tasks
from rshell.swarm.targets import ServiceTarget
from rshell.verb import CancelSignal

TASK_KEY = "com.docker.swarm.task.id"
NODE_KEY = "com.docker.swarm.node.id"
#: how often an unknown task ID (one started during a follow) may make us list the tasks again
REFRESH_SECONDS = 2.0


def open_service_logs(
    engine: Engine, service: ServiceTarget, query: dict[str, Any], *, cancel: object
) -> Iterator[bytes]:
    """The service's output as byte blocks (all tasks, stdout and stderr), details on."""
    api = engine.client.api
    response = api._get(api._url("/services/{0}/logs", service.id), params={**query, "details": 1}, stream=True)
    api._raise_for_status(response)
    if isinstance(cancel, CancelSignal):
        raw_socket = api._get_raw_response_socket(response)
        raw_socket = getattr(raw_socket, "_sock", raw_socket)
        cancel.on_cancel(lambda: raw_socket.shutdown(socket.SHUT_RDWR))
    container_spec = (service_spec(engine, service).get("TaskTemplate") or {}).get("ContainerSpec") or {}
    tty = bool(container_spec.get("TTY"))
    blocks = _body_blocks(response)
    return blocks if tty else demultiplex(blocks)


def service_spec(engine: Engine, service: ServiceTarget) -> Mapping[str, Any]:
    spec: Mapping[str, Any] = engine.client.api.inspect_service(service.id).get("Spec") or {}
    return spec


class TaskPrefixes:
    """Task ID -> ``NAME.SLOT.TASK@NODE``, from the task list (listed again for a task it has not seen)."""

    def __init__(self, engine: Engine, service: ServiceTarget, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.service = service
        self._clock = clock
        self._names: dict[str, str] = {}
        self._listed_at: float | None = None

    def prefix(self, task_id: str, node_id: str) -> str:
        if task_id not in self._names and self._may_list():
            self._list()
        return self._names.get(task_id) or f"{self.service.name}.{task_id[:12]}@{node_id[:12]}"

    def _may_list(self) -> bool:
        return self._listed_at is None or self._clock() - self._listed_at >= REFRESH_SECONDS

    def _list(self) -> None:
        self._listed_at = self._clock()
        nodes = node_names(self.engine)
        for row in service_tasks(self.engine, self.service):
            task_id, node_id = str(row.get("ID", "")), str(row.get("NodeID", ""))
            slot = row.get("Slot") or node_id  # a global service's tasks are named by node
            self._names[task_id] = f"{self.service.name}.{slot}.{task_id[:12]}@{nodes.get(node_id, node_id[:12])}"


def prefixed(lines: tuple[str, ...], prefixes: TaskPrefixes, *, timestamps: bool) -> tuple[str, ...]:
    """Each ``[TIME ]DETAILS MESSAGE`` line as ``[TIME ]TASK@NODE | MESSAGE``."""
    return tuple(_prefixed(line, prefixes, timestamps=timestamps) for line in lines)


def _prefixed(line: str, prefixes: TaskPrefixes, *, timestamps: bool) -> str:
    stamp = ""
    if timestamps:
        stamp, _, line = line.partition(" ")
        stamp += " "
    details, _, message = line.partition(" ")
    attributes = dict(pair.partition("=")[::2] for pair in details.split(","))
    if TASK_KEY not in attributes:  # not a details field: show the line as it came
        return f"{stamp}{line}"
    return f"{stamp}{prefixes.prefix(attributes[TASK_KEY], attributes.get(NODE_KEY, ''))} | {message}"
