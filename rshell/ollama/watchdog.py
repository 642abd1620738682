"""Cut an ollama connection when its total deadline passes or its verb is cancelled.

A socket timeout bounds one ``recv``; a server that sends a byte every two seconds would never
trip it. So every open connection is watched: one thread for the whole process shuts the socket
down (``shutdown(2)`` wakes a ``recv`` blocked in another thread at once) when its deadline
passes, and a cancel signal (Ctrl-C in the client, an MCP cancel, the client gone) does the same
for every connection its verb has open. The owner still closes the socket; the watchdog never
does, so a descriptor is never closed under a thread that is using it.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
import weakref

DEADLINE, CANCELLED = "deadline", "cancelled"


class Watch:
    """One open connection: cut it at most once, and never after its owner is done with it."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline
        self.reason: str | None = None
        self.finished = False
        self._lock = threading.Lock()

    def cut(self, reason: str) -> None:
        with self._lock:
            if self.finished or self.reason is not None:
                return
            self.reason = reason
            with contextlib.suppress(OSError):  # already closed by the peer: nothing left to wake
                socket.socket.shutdown(self.sock, socket.SHUT_RDWR)  # the plain socket's, also under TLS

    def replace_socket(self, sock: socket.socket) -> None:
        """Watch ``sock`` instead (TLS took the descriptor over); cut it at once if the cut came meanwhile."""
        with self._lock:
            self.sock = sock
            if self.reason is None:
                return
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def finish(self) -> None:
        """The owner is done; after this returns the socket may be closed safely."""
        with self._lock:
            self.finished = True


class _Watchdog:
    """A heap of deadlines and one daemon thread that cuts each connection whose time is up."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, watch: Watch) -> None:
        with self._wakeup:
            heapq.heappush(self._heap, (watch.deadline, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ollama-deadlines", daemon=True)
                self._thread.start()
            self._wakeup.notify()

    def _loop(self) -> None:
        while True:
            with self._wakeup:
                while not self._heap:
                    self._wakeup.wait()
                deadline, _order, watch = self._heap[0]
                wait = deadline - time.monotonic()
                if watch.finished:  # finished early: drop it without waiting for its deadline
                    heapq.heappop(self._heap)
                    continue
                if wait > 0:
                    self._wakeup.wait(wait)
                    continue
                heapq.heappop(self._heap)
            watch.cut(DEADLINE)


WATCHDOG = _Watchdog()


class OpenConnections:
    """The connections one cancel signal's verb has open; a cancel cuts them all and every later one."""

    def __init__(self) -> None:
        self._watches: set[Watch] = set()
        self._lock = threading.Lock()
        self.cancelled = False

    def add(self, watch: Watch) -> None:
        with self._lock:
            self._watches.add(watch)
            cancelled = self.cancelled
        if cancelled:
            watch.cut(CANCELLED)

    def discard(self, watch: Watch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def cut_all(self) -> None:
        with self._lock:
            self.cancelled = True
            watches = list(self._watches)
        for watch in watches:
            watch.cut(CANCELLED)


_BY_SIGNAL: weakref.WeakKeyDictionary[threading.Event, OpenConnections] = weakref.WeakKeyDictionary()
_BY_SIGNAL_LOCK = threading.Lock()


def connections_of(cancel: threading.Event) -> OpenConnections:
    """The open connections of ``cancel``'s verb. A signal that runs callbacks when set (rshell's
    CancelSignal) gets one callback, however many requests its verb makes."""
    with _BY_SIGNAL_LOCK:
        found = _BY_SIGNAL.get(cancel)
        if found is None or (found.cancelled and not cancel.is_set()):  # new, or set and cleared since
            found = _BY_SIGNAL[cancel] = OpenConnections()
            on_cancel = getattr(cancel, "on_cancel", None)
            if callable(on_cancel):
                on_cancel(found.cut_all)
    return found
