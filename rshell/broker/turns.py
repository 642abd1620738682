"""Turns per uid: each uid's calls run at most ``lanes`` at a time, so one uid's backlog waits behind its own work.

Every call (a line, an MCP tool call) runs in a thread of its own, and CPython runs one thread's
Python at a time: without turns, a uid with a hundred calls under way (an MCP session pipelining, a
batch, many sessions at once) gets a hundred times the CPU of a uid with one, and that one waits.
Here a uid runs at most ``lanes`` calls at once; its others wait, first come first served, and a
uid with nothing running always starts at once, whatever another uid has queued: the share of
each uid is the same, the way a fair queueing scheduler serves flows. A call that has held its
turn for ``seconds`` (a stream, a wait on the engine or on ollama) gives its lane up then without
noticing: turns ration short work and never hold a long call back. A waiting call that is
cancelled stops waiting at once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque

from rshell.verb import CancelSignal

#: calls of one uid running at once (two let one wait on the engine while the other computes)
LANES = 2
#: a turn lasts at most this long; a longer call goes on outside its uid's lanes
TURN_SECONDS = 0.02


class Turns:
    def __init__(self, lanes: int = LANES, seconds: float = TURN_SECONDS) -> None:
        self.lanes = lanes
        self.seconds = seconds
        self._lock = threading.Lock()
        self._tickets = itertools.count(1)
        #: ticket -> (its uid, when its turn ends on its own)
        self._held: dict[int, tuple[int, float]] = {}
        #: uid -> how many of its calls hold a turn
        self._running: dict[int, int] = {}
        #: uid -> its waiting calls (ticket, woken when granted), oldest first
        self._waiting: dict[int, deque[tuple[int, threading.Event]]] = {}
        self._expiry = threading.Condition(self._lock)
        self._timer: threading.Thread | None = None

    def take(self, uid: int, cancel: threading.Event | None = None) -> int:
        """Wait for a turn of this uid; a ticket for ``give_back`` (0 when cancelled while waiting)."""
        with self._lock:
            ticket, now = next(self._tickets), time.monotonic()
            self._expire(now)
            if uid not in self._waiting and self._running.get(uid, 0) < self.lanes:
                self._hold(ticket, uid, now)
                return ticket
            granted = threading.Event()
            self._waiting.setdefault(uid, deque()).append((ticket, granted))
            self._start_timer()
            self._expiry.notify()
        if isinstance(cancel, CancelSignal):
            cancel.on_cancel(granted.set)
        poll = 0.5 if cancel is not None and not isinstance(cancel, CancelSignal) else None
        while not granted.wait(poll):
            if cancel is not None and cancel.is_set():
                break
        with self._lock:
            if ticket in self._held:
                return ticket
            self._forget(uid, ticket)  # woken by the cancel, not by a turn
            return 0

    def give_back(self, ticket: int) -> None:
        with self._lock:
            held = self._held.pop(ticket, None)
            if held is not None:
                self._release(held[0], time.monotonic())

    def _hold(self, ticket: int, uid: int, now: float) -> None:
        self._held[ticket] = (uid, now + self.seconds)
        self._running[uid] = self._running.get(uid, 0) + 1

    def _release(self, uid: int, now: float) -> None:
        """Called under the lock: one lane of ``uid`` is free; its oldest waiting call gets it."""
        left = self._running.get(uid, 1) - 1
        if left:
            self._running[uid] = left
        else:
            self._running.pop(uid, None)
        queue = self._waiting.get(uid)
        if queue:
            ticket, granted = queue.popleft()
            if not queue:
                del self._waiting[uid]
            self._hold(ticket, uid, now)
            granted.set()

    def _expire(self, now: float) -> None:
        for ticket in [ticket for ticket, (_uid, ends) in self._held.items() if ends <= now]:
            uid, _ends = self._held.pop(ticket)
            self._release(uid, now)

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
        """While calls wait: ends the turns of their uids that have run out, when the first one does."""
        with self._lock:
            while True:
                ends = [end for uid, end in self._held.values() if uid in self._waiting]
                if not ends:
                    self._expiry.wait()
                    continue
                now = time.monotonic()
                if min(ends) > now:
                    self._expiry.wait(min(ends) - now)
                    continue
                self._expire(now)
