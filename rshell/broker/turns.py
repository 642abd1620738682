"""Fair turns between uids: the broker's calls run in rotation, so one uid's backlog waits behind its own work.

Every call (a line, an MCP tool call) runs in a thread of its own, and CPython runs one thread's
Python at a time: without turns, a uid with a hundred calls queued (an MCP session pipelining, a
batch) gets a hundred times the CPU of a uid with one, and that one waits. Here at most ``lanes``
calls hold a turn at once; a lane that comes free goes to the next uid in rotation that has a call
waiting (round robin between uids, first come first served within one), the way a fair queueing
scheduler serves flows. A call that has held its turn for ``seconds`` (a stream, a wait on the
engine or on ollama) gives its lane up then without noticing: turns ration short work and never
hold a long call back. A waiting call that is cancelled stops waiting at once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict, deque

from rshell.verb import CancelSignal

#: calls running at once (CPython runs one at a time; two let one wait on the engine while one computes)
LANES = 2
#: a turn lasts at most this long; longer calls go on outside the rotation
TURN_SECONDS = 0.02


class Turns:
    def __init__(self, lanes: int = LANES, seconds: float = TURN_SECONDS) -> None:
        self.lanes = lanes
        self.seconds = seconds
        self._lock = threading.Lock()
        self._tickets = itertools.count(1)
        #: ticket -> when its turn ends on its own
        self._held: dict[int, float] = {}
        #: uid -> its waiting calls (ticket, woken when granted), uids in rotation order
        self._waiting: OrderedDict[int, deque[tuple[int, threading.Event]]] = OrderedDict()
        self._expiry = threading.Condition(self._lock)
        self._timer: threading.Thread | None = None

    def take(self, uid: int, cancel: threading.Event | None = None) -> int:
        """Wait for this uid's turn; a ticket for ``give_back`` (0 when the call was cancelled while waiting)."""
        with self._lock:
            ticket, now = next(self._tickets), time.monotonic()
            self._expire(now)
            self._grant(now)
            if not self._waiting and len(self._held) < self.lanes:
                self._held[ticket] = now + self.seconds
                return ticket
            granted = threading.Event()
            self._waiting.setdefault(uid, deque()).append((ticket, granted))
            self._start_timer()
            self._expiry.notify()
        if isinstance(cancel, CancelSignal):
            cancel.on_cancel(granted.set)
        while not granted.wait(0.5 if cancel is not None and not isinstance(cancel, CancelSignal) else None):
            if cancel is not None and cancel.is_set():
                break
        with self._lock:
            if ticket in self._held:
                return ticket
            self._forget(uid, ticket)  # woken by the cancel, not by a turn
            return 0

    def give_back(self, ticket: int) -> None:
        with self._lock:
            if self._held.pop(ticket, None) is not None:
                self._grant(time.monotonic())

    def _expire(self, now: float) -> None:
        for ticket in [ticket for ticket, ends in self._held.items() if ends <= now]:
            del self._held[ticket]

    def _grant(self, now: float) -> None:
        """Called under the lock: free lanes go to the uids waiting, one call each in rotation."""
        while self._waiting and len(self._held) < self.lanes:
            uid, queue = next(iter(self._waiting.items()))
            ticket, granted = queue.popleft()
            if queue:
                self._waiting.move_to_end(uid)
            else:
                del self._waiting[uid]
            self._held[ticket] = now + self.seconds
            granted.set()

    def _forget(self, uid: int, ticket: int) -> None:
        queue = self._waiting.get(uid)
        if queue is None:
            return
        for item in queue:
            if item[0] == ticket:
                queue.remove(item)
                break
        if not queue:
            del self._waiting[uid]

    def _start_timer(self) -> None:
        if self._timer is None:
            self._timer = threading.Thread(target=self._expire_forever, name="turns", daemon=True)
            self._timer.start()

    def _expire_forever(self) -> None:
        """While calls wait: ends the turns that have run out, at the moment the first one does."""
        with self._lock:
            while True:
                if not self._waiting or not self._held:
                    self._expiry.wait()
                    continue
                now = time.monotonic()
                first = min(self._held.values())
                if first > now:
                    self._expiry.wait(first - now)
                    continue
                self._expire(now)
                self._grant(now)
