"""The broker's resource caps and connection admission: decided in the accept loop, in O(1), per uid.

A connection is admitted or refused from its SO_PEERCRED uid alone, before any user-database
lookup or thread start, so a uid at its caps costs another uid nothing. Refusals are logged and
audited once per burst (rshell.broker.refusals), never once per connection.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Caps:
    """Each cap's default is far above what an agent uses and far below what a flood asks for."""

    #: open connections of one uid (an MCP session, a REPL, a running verb: one each)
    connections_per_uid: int = 256
    #: new connections of one uid per second, sustained (a burst may use connections_per_uid at once; a
    #: batch of lines through the broker is one connection a line, so this is a batch's top speed);
    #: past it a connection waits its turn in its own thread, it is not refused
    connection_rate_per_uid: int = 200
    #: threads in the broker; a connection is refused while this many run (each connection holds one)
    threads: int = 1024
    #: connections to the engine, shared by every request; a call waits for one up to the engine timeout
    engine_connections: int = 64
    #: long engine streams (logs --follow) open at once, in all and per uid: each holds an engine connection
    follows: int = 48
    follows_per_uid: int = 16
    #: MCP messages of one uid per second, all its sessions together, sustained (bursts of twice that);
    #: past it the session's next message is read later, it is not refused (an agent sends a few a second)
    mcp_rate_per_uid: int = 50

    def check(self) -> None:
        """The follows must leave engine connections for short calls, and one uid must leave threads for others."""
        if self.follows >= self.engine_connections:
            raise ValueError("--max-follows must be below --engine-connections, so that short calls find one")
        if self.follows_per_uid > self.follows or self.connections_per_uid >= self.threads:
            raise ValueError("per-uid caps must be below the broker's totals (--max-follows, --max-threads)")


#: how many uids' connection rates are remembered at once
MAX_BUCKETS = 4096
#: flag -> Caps field, each taking a whole number
FLAGS = {
    "--max-connections-per-uid": "connections_per_uid",
    "--connection-rate-per-uid": "connection_rate_per_uid",
    "--max-threads": "threads",
    "--engine-connections": "engine_connections",
    "--max-follows": "follows",
    "--max-follows-per-uid": "follows_per_uid",
    "--mcp-rate-per-uid": "mcp_rate_per_uid",
}


class RateBuckets:
    """A token bucket per uid: ``burst`` tokens, refilled at ``rate`` a second; ``take`` spends one and
    says how long its caller should wait first (0.0 within the rate). The debt of a uid stays below
    what it has waiting (each waiter holds one token), so a wait is bounded by that over the rate."""

    def __init__(self, rate: int, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._lock = threading.Lock()
        #: per uid: (tokens, when last counted)
        self._buckets: dict[int, tuple[float, float]] = {}

    def take(self, uid: int) -> float:
        with self._lock:
            now = time.monotonic()
            tokens, then = self._buckets.get(uid, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate) - 1
            if len(self._buckets) >= MAX_BUCKETS:
                self._buckets.clear()  # every uid starts full again: only ever in the caller's favour
            self._buckets[uid] = (tokens, now)
        return max(0.0, -tokens / self.rate)

    def wait(self, uid: int) -> float:
        """How long until ``take`` would cost no wait (0.0: now), nothing spent."""
        with self._lock:
            now = time.monotonic()
            tokens, then = self._buckets.get(uid, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate) - 1
        return max(0.0, -tokens / self.rate)


class Admission:
    """Counts each uid's open connections; ``admit`` never blocks and never touches the user database."""

    def __init__(self, caps: Caps) -> None:
        self.caps = caps
        self._lock = threading.Lock()
        self._by_uid: dict[int, int] = {}
        self._open = 0
        #: a token per admitted connection, refilled at the rate, bursts up to the connection cap
        self.pace = RateBuckets(caps.connection_rate_per_uid, caps.connections_per_uid)

    def admit(self, uid: int, *, paced: bool = False) -> tuple[str, str] | float:
        """(cap, message) to refuse; otherwise the seconds this connection waits before it is served
        (0.0 within the uid's rate), and the caller must ``release`` it later. ``paced``: the caller
        has spent the uid's token for it already (a lane is taken from at the uid's rate)."""
        with self._lock:
            mine = self._by_uid.get(uid, 0)
            if mine >= self.caps.connections_per_uid:
                cap = f"{self.caps.connections_per_uid} per uid, --max-connections-per-uid"
                return "connections_per_uid", f"too many connections to the broker from your user ({cap}); close some"
            if threading.active_count() >= self.caps.threads:
                return "threads", f"the broker is at its cap of {self.caps.threads} threads (--max-threads); try again"
            self._by_uid[uid] = mine + 1
            self._open += 1
        # a connection past the rate waits until its token has been refilled: at most
        # connections_per_uid / rate, since each waiting one holds a connection
        return 0.0 if paced else self.pace.take(uid)

    def release(self, uid: int) -> None:
        with self._lock:
            left = self._by_uid.get(uid, 1) - 1
            if left:
                self._by_uid[uid] = left
            else:
                self._by_uid.pop(uid, None)
            self._open -= 1

    def open_connections(self) -> int:
        with self._lock:
            return self._open
