"""Connection refusals, reported once per burst: a line on stderr and an audit record when a uid's
burst starts, and again with its count once it has been quiet for QUIET_SECONDS.

The accept loop only counts (``note``); this module's own thread does the user-database lookup,
the audit write and the logging, so a flood of refusals never slows the accept loop.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from dataclasses import dataclass

from rshell.broker.state import BrokerState, log
from rshell.errors import Denied, RshellError
from rshell.executor import audit_refused_line

#: the cap whose "refusals" only delay a connection (rshell.broker.caps.Admission)
PACED = "connection_rate_per_uid"
#: a burst ends when its uid has not been refused for this long
QUIET_SECONDS = 2.0
#: a log line that repeats is written at most once per this many seconds, with its count
SPARSE_SECONDS = 10.0
#: how long a refused connection is kept for its request to arrive, and how many are kept at once
LINGER_SECONDS = 1.0
MAX_LINGERING = 512
#: how often the kept connections are scanned for the ones whose time has come
SCAN_SECONDS = 0.05
#: how long a connection refused at its uid's connection cap waits for its refusal
CAP_REFUSAL_DELAY = 0.5


@dataclass
class Burst:
    uid: int
    gid: int
    cap: str
    message: str
    started: float
    last: float
    count: int = 1
    reported: bool = False


class Refusals:
    def __init__(self, state: BrokerState) -> None:
        self.state = state
        self._lock = threading.Condition()
        self._bursts: dict[tuple[int, str], Burst] = {}
        threading.Thread(target=self._report_forever, name="refusals", daemon=True).start()

    def note(self, uid: int, gid: int, cap: str, message: str) -> None:
        """Count one refusal (cheap: called from the accept loop)."""
        now = time.monotonic()
        with self._lock:
            burst = self._bursts.get((uid, cap))
            if burst is None:
                self._bursts[(uid, cap)] = Burst(uid, gid, cap, message, now, now)
                self._lock.notify()
            else:
                burst.count += 1
                burst.last = now

    def _report_forever(self) -> None:
        while True:
            with self._lock:
                self._lock.wait(timeout=QUIET_SECONDS / 2)
                now = time.monotonic()
                starting = [burst for burst in self._bursts.values() if not burst.reported]
                for burst in starting:
                    burst.reported = True
                ended = [burst for burst in self._bursts.values() if now - burst.last >= QUIET_SECONDS]
                for burst in ended:
                    del self._bursts[(burst.uid, burst.cap)]
            for burst in starting:
                self._report(burst, f"{self._verb(burst)} a connection of uid {burst.uid} ({burst.message}); counting")
            for burst in ended:
                seconds = burst.last - burst.started
                self._report(
                    burst, f"uid {burst.uid}: {burst.count} connection(s) {self._done(burst)} in {seconds:.1f} s"
                )

    @staticmethod
    def _verb(burst: Burst) -> str:
        return "pacing" if burst.cap == PACED else "refusing"

    @staticmethod
    def _done(burst: Burst) -> str:
        return "paced" if burst.cap == PACED else "refused"

    def report_all(self) -> None:
        """At shutdown: every burst still going, with its count so far."""
        with self._lock:
            bursts, self._bursts = list(self._bursts.values()), {}
        for burst in bursts:
            self._report(burst, f"uid {burst.uid}: {burst.count} connection(s) refused until the broker stopped")

    def _report(self, burst: Burst, text: str) -> None:
        log(text)
        if burst.cap == PACED:  # delayed, not refused: nothing for the audit log
            return
        try:
            session = self.state.session_for(self.state.principal(burst.uid), "connect")
            audit_refused_line(session, "(connection)", Denied(text))
        except (OSError, RshellError) as error:  # the audit log or user database is out of reach: stderr has it
            log(f"cannot audit the refusal: {error}")


@dataclass
class Held:
    """A refused connection kept by Lingering: until when, and the refusal to send then (b"": none)."""

    until: float
    answer: bytes = b""


class Lingering:
    """Refused connections, kept a while by this module's thread.

    ``close_later``: the refusal is sent; the connection is closed once the client's request has
    arrived (then read away) or LINGER_SECONDS have passed: closed at once, a client still sending
    would see a broken pipe instead of the refusal already waiting for it.

    ``answer_later``: the refusal itself is sent after a delay (the requests read away meanwhile,
    the connection closed early if the client leaves): a client that tries again the moment it is
    refused then tries at most once per delay per connection, instead of costing the broker an
    accept and a refusal as fast as it can loop. At most MAX_LINGERING are kept; beyond that the
    caller refuses at once.
    """

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._count = 0
        threading.Thread(target=self._close_forever, name="lingering", daemon=True).start()

    def close_later(self, conn: socket.socket) -> None:
        if not self._hold(conn, Held(time.monotonic() + LINGER_SECONDS)):
            conn.close()

    def answer_later(self, conn: socket.socket, answer: bytes, delay: float) -> bool:
        """Keep ``conn`` and send ``answer`` in ``delay`` seconds; False when too many are kept already."""
        return self._hold(conn, Held(time.monotonic() + delay, answer))

    def _hold(self, conn: socket.socket, held: Held) -> bool:
        with self._lock:
            if self._count >= MAX_LINGERING:
                return False
            self._count += 1
            self._selector.register(conn, selectors.EVENT_READ, held)
        return True

    def _close_forever(self) -> None:
        next_scan = 0.0
        while True:
            events = self._selector.select(timeout=SCAN_SECONDS)
            now = time.monotonic()
            done: dict[int, selectors.SelectorKey] = {}
            for key, _events in events:  # the request arrived, or the client left
                if not (key.data.answer and _still_connected(key.fileobj)):
                    done[key.fd] = key
            with self._lock:
                if now >= next_scan:  # a scan of all of them, not one per wake-up
                    next_scan = now + SCAN_SECONDS
                    done |= {key.fd: key for key in self._selector.get_map().values() if key.data.until <= now}
                for key in done.values():
                    self._selector.unregister(key.fileobj)
                    self._count -= 1
            for key in done.values():
                _finish(key.fileobj, key.data, expired=key.data.until <= now)


def _still_connected(conn: object) -> bool:
    """Read away what the client sent; False once it has closed its end."""
    assert isinstance(conn, socket.socket)
    try:
        return bool(conn.recv(65536, socket.MSG_DONTWAIT))
    except BlockingIOError:
        return True
    except OSError:
        return False


def _finish(conn: object, held: Held, *, expired: bool) -> None:
    assert isinstance(conn, socket.socket)
    with contextlib.suppress(OSError):
        if held.answer and expired:
            conn.send(held.answer, socket.MSG_DONTWAIT)
        conn.recv(65536, socket.MSG_DONTWAIT)
    conn.close()


class SparseLog:
    """Writes a line the first time, then the same line at most once per SPARSE_SECONDS, saying how
    often it came meanwhile: what a client can cause per connection must not be a line per connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, int]] = {}

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        with self._lock:
            last, repeats = self._seen.get(text, (now - SPARSE_SECONDS, 0))
            if now - last < SPARSE_SECONDS:
                self._seen[text] = (last, repeats + 1)
                return
            if len(self._seen) >= 1024:
                self._seen.clear()
            self._seen[text] = (now, 0)
        log(f"{text} (and {repeats} more like it)" if repeats else text)


log_sparingly = SparseLog()
