"""One thread watches the connections of every running request: whatever a client sends while its
verb runs (a cancel message, or closing the connection) cancels that verb.

A thread per request would do the same at twice the thread starts per request, which is most of
the broker's own CPU time for a short verb such as ``ps``.
"""

from __future__ import annotations

import selectors
import socket
import threading

from rshell.verb import CancelSignal


class CancelWatcher:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()  # epoll itself takes registrations while another thread waits
        self._thread: threading.Thread | None = None

    def watch(self, conn: socket.socket, cancel: CancelSignal) -> None:
        with self._lock:
            self._selector.register(conn, selectors.EVENT_READ, cancel)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="cancel-watcher", daemon=True)
                self._thread.start()

    def forget(self, conn: socket.socket) -> None:
        """Stop watching; afterwards the connection may be closed (and its descriptor reused)."""
        with self._lock:
            try:
                self._selector.unregister(conn)
            except (KeyError, ValueError):
                return

    def _loop(self) -> None:
        while True:
            for key, _events in self._selector.select():
                self._cancel_if_still_watched(key)

    def _cancel_if_still_watched(self, key: selectors.SelectorKey) -> None:
        """Under the lock, so the descriptor cannot have been forgotten, closed and reused meanwhile."""
        with self._lock:
            try:
                current = self._selector.get_key(key.fileobj)
            except (KeyError, ValueError):
                return
            if current.data is not key.data:
                return
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            try:
                conn.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return  # a stale readiness: nothing was there after all
            except OSError:
                pass
            self._selector.unregister(conn)
        key.data.set()
