"""The engine transport the broker shares: a bounded, blocking connection pool and capped long streams.

docker-py's unix adapter builds urllib3 pools that never block: when every pooled connection is
busy it opens another (urllib3 ``HTTPConnectionPool(block=False)``), so thousands of concurrent
follows meant thousands of connections to docker.sock. Here the pool blocks for at most ``wait``
seconds and then fails the call (urllib3 raises ``EmptyPoolError``), and a long stream (``follow=1``
or ``stream=1``: it holds its connection until it ends) needs a slot, ``streams`` in all and
``streams_per_owner`` per caller, so short calls such as ``ps`` always find a connection.
The caller is the uid the broker puts in STREAM_OWNER for the thread that serves it.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from docker.transport.unixconn import UnixHTTPAdapter, UnixHTTPConnectionPool

from rshell.errors import Denied

#: the uid whose request this thread serves (None: a local session, or a thread the broker did not tag)
#: the key of the adapter's one pool
POOL_KEY = "engine"
STREAM_OWNER: contextvars.ContextVar[int | None] = contextvars.ContextVar("rshell_stream_owner", default=None)


class StreamSlots:
    """Counts open long streams, in all and per owner; ``take`` refuses beyond either cap."""

    def __init__(self, total: int, per_owner: int, report: Callable[[str], None] | None = None) -> None:
        self.total = total
        self.per_owner = per_owner
        #: where the first refusal of a burst and the end of it are told (the broker's: at most one
        #: line of a kind per ten seconds, so streams churning at the cap do not flood the log)
        self.report = report or _to_stderr
        self._lock = threading.Lock()
        self._open = 0
        self._by_owner: dict[int | None, int] = {}
        self._refused = 0

    def take(self, owner: int | None) -> StreamSlot:
        with self._lock:
            self._check(owner)
            self._open += 1
            self._by_owner[owner] = self._by_owner.get(owner, 0) + 1
        return StreamSlot(self, owner)

    def check(self, owner: int | None) -> None:
        """Refuse now what ``take`` would refuse now: a follow past the caps costs no engine call."""
        with self._lock:
            self._check(owner)

    def _check(self, owner: int | None) -> None:
        if self._open >= self.total:
            self._refuse(f"the broker has {self.total} log streams open (--max-follows); try again later")
        if owner is not None and self._by_owner.get(owner, 0) >= self.per_owner:
            self._refuse(f"you have {self.per_owner} log streams open (--max-follows-per-uid); end one first")

    def _refuse(self, message: str) -> None:
        """Called under the lock: logs the first refusal of a burst, not every one."""
        self._refused += 1
        if self._refused == 1:
            self.report(f"refusing log streams: {message}")
        raise Denied(message)

    def give_back(self, owner: int | None) -> None:
        with self._lock:
            self._open -= 1
            left = self._by_owner.get(owner, 1) - 1
            if left:
                self._by_owner[owner] = left
            else:
                self._by_owner.pop(owner, None)
            if self._refused and self._open < self.total // 2:
                self.report(f"log streams below their caps again ({self._refused} refused)")
                self._refused = 0

    def count(self) -> int:
        with self._lock:
            return self._open


def _to_stderr(text: str) -> None:
    sys.stderr.write(f"rshelld: {text}\n")


class StreamSlot:
    """One open stream's slot, given back exactly once (when its response closes, or is collected)."""

    def __init__(self, slots: StreamSlots, owner: int | None) -> None:
        self._slots = slots
        self._owner = owner
        self._lock = threading.Lock()
        self._held = True

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held, False
        if held:
            self._slots.give_back(self._owner)


class BlockingPool(UnixHTTPConnectionPool):  # type: ignore[misc]
    """At most ``maxsize`` connections; a caller waits ``wait`` seconds for one, then EmptyPoolError."""

    def __init__(self, base_url: str, socket_path: str, timeout: float, maxsize: int, wait: float) -> None:
        super().__init__(base_url, socket_path, timeout, maxsize=maxsize)
        self.block = True
        self.wait = wait

    def _get_conn(self, timeout: float | None = None) -> Any:
        return super()._get_conn(timeout=self.wait if timeout is None else timeout)


class BoundedUnixAdapter(UnixHTTPAdapter):  # type: ignore[misc]
    """docker-py's unix adapter with a BlockingPool and stream slots."""

    def __init__(self, socket_url: str, timeout: float, max_pool_size: int, wait: float, slots: StreamSlots) -> None:
        super().__init__(socket_url, timeout, max_pool_size=max_pool_size)
        self.wait = wait
        self.slots = slots

    def get_connection(self, url: str, proxies: Any = None) -> Any:
        """One pool for every request: docker-py keys its pools by the whole request URL (up to 25 of
        them, each ``max_pool_size``), which bounds nothing; requests sends only the path to it."""
        with self.pools.lock:
            pool = self.pools.get(POOL_KEY)
            if pool is None:
                pool = BlockingPool(url, self.socket_path, self.timeout, self.max_pool_size, self.wait)
                self.pools[POOL_KEY] = pool
        return pool

    def send(self, request: Any, stream: bool = False, **kwargs: Any) -> Any:
        if not (stream and is_long_stream(request.url)):
            return super().send(request, stream=stream, **kwargs)
        slot = self.slots.take(STREAM_OWNER.get())
        try:
            response = super().send(request, stream=stream, **kwargs)
        except BaseException:
            slot.release()
            raise
        close = response.close

        def close_and_release() -> None:
            try:
                close()
            finally:
                slot.release()

        response.close = close_and_release
        weakref.finalize(response, slot.release)
        return response


def is_long_stream(url: str) -> bool:
    """A request whose response stays open until the container or the caller ends it."""
    query = parse_qs(urlsplit(url).query)
    return any(value in ("1", "true", "True") for key in ("follow", "stream") for value in query.get(key, ()))


def bound_unix_client(client: Any, url: str, timeout: float, pool_size: int, slots: StreamSlots) -> None:
    """Give a docker-py client for a unix:// engine the bounded adapter (tcp:// keeps docker-py's);
    a call waits for a free connection as long as it would wait for the engine's answer."""
    if not url.startswith("unix://"):
        return
    adapter = BoundedUnixAdapter("http+unix://" + url.removeprefix("unix://"), timeout, pool_size, timeout, slots)
    client.api._custom_adapter = adapter
    client.api.mount("http+docker://", adapter)
