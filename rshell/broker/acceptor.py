"""The accept loop: each connection admitted or refused from its uid alone, then served in a thread.

Admission (rshell.broker.caps) happens here, before any user-database lookup or thread start, so
a uid at its caps costs the others only an accept and a refusal; a refusal is one JSON ``end`` line
with status 126, sent without waiting.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time

from rshell.broker.caps import Admission, Caps
from rshell.broker.handler import Peer, handle_connection, peer_of
from rshell.broker.refusals import CAP_REFUSAL_DELAY, Lingering, Refusals
from rshell.broker.state import BrokerState, log
from rshell.engine.pool import STREAM_OWNER
from rshell.errors import ExitStatus
from rshell.protocol import encode

#: how long to wait after a failed accept (out of descriptors) before accepting again
ACCEPT_BACKOFF = 0.1
#: connections taken from the kernel's queue at once, admitted ones served before any is refused
ACCEPT_BATCH = 512


class Server:
    """The accept loop: admits or refuses each connection from its uid, then serves it in a thread."""

    def __init__(self, server: socket.socket, state: BrokerState, caps: Caps) -> None:
        self.server = server
        self.state = state
        self.admission = Admission(caps)
        self.refusals = Refusals(state)
        self.lingering = Lingering()
        self.stop = threading.Event()
        self._accept_failures = 0
        self._answers: dict[str, bytes] = {}
        self._pacing = (
            f"over {caps.connection_rate_per_uid} new connections per second (--connection-rate-per-uid): paced"
        )

    def serve(self, wake: socket.socket | None = None) -> None:
        """Accept until ``stop``. ``wake`` is the read end of the signal wakeup descriptor
        (signal.set_wakeup_fd): a SIGTERM delivered to another thread than the main one must still
        end a wait for connections, which a blocking accept in the main thread would never notice."""
        self.server.setblocking(False)
        poller = select.poll()
        poller.register(self.server, select.POLLIN)
        if wake is not None:
            poller.register(wake, select.POLLIN)
        while not self.stop.is_set():
            ready = poller.poll()
            if wake is not None and any(fd == wake.fileno() for fd, _events in ready):
                with contextlib.suppress(OSError):
                    wake.recv(4096)  # the signal's own handler has run, or runs now, in this thread
            if self.stop.is_set():
                return
            refused: list[tuple[socket.socket, int, int, str, str]] = []
            self._accept_queued(refused)
            for refusal in refused:  # after every admitted connection of the batch has its thread
                self._refuse(*refusal)

    def _accept_queued(self, refused: list[tuple[socket.socket, int, int, str, str]]) -> None:
        """Every connection waiting in the kernel's queue (up to ACCEPT_BATCH), each admitted one
        given its thread as it is accepted, the refusals kept for the end: a flood's connections
        ahead of an honest one cost it an accept each, not a refusal each."""
        for _ in range(ACCEPT_BATCH):
            try:
                conn = self.server.accept()[0]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if not self.stop.is_set():
                    self._accept_failed(error)
                return
            if self._accept_failures:
                log(f"accepting again after {self._accept_failures} failed accepts")
                self._accept_failures = 0
            self._admit(conn, refused)

    def _accept_failed(self, error: OSError) -> None:
        """Out of descriptors: wait for some to close, do not spin, and say so once per burst."""
        self._accept_failures += 1
        if self._accept_failures == 1:
            log(f"accept failed: {error}")
        time.sleep(ACCEPT_BACKOFF)

    def _admit(self, conn: socket.socket, refused: list[tuple[socket.socket, int, int, str, str]]) -> None:
        try:
            peer = peer_of(conn)
        except OSError:
            conn.close()
            return
        uid, gid = peer.uid, peer.gid
        admitted = self.admission.admit(uid)
        if isinstance(admitted, tuple):
            refused.append((conn, uid, gid, *admitted))
            return
        if admitted:
            self.refusals.note(uid, gid, "connection_rate_per_uid", self._pacing)
        try:
            threading.Thread(target=self._serve_one, args=(conn, peer, admitted), daemon=True).start()
        except RuntimeError as error:  # no thread to spare: refuse this caller, keep serving the others
            self.admission.release(uid)
            refused.append((conn, uid, gid, "threads", f"the broker cannot start a thread ({error}); try again"))

    def _serve_one(self, conn: socket.socket, peer: Peer, wait: float) -> None:
        STREAM_OWNER.set(peer.uid)  # the engine's stream caps count this thread's streams against uid
        try:
            if wait and self.stop.wait(wait):  # past the uid's rate: its turn comes later
                return
            handle_connection(conn, self.state, peer)
        finally:
            self.admission.release(peer.uid)

    def _refuse(self, conn: socket.socket, uid: int, gid: int, cap: str, message: str) -> None:
        """One JSON line (status 126, as a rate limit), sent without waiting; the connection is closed
        once the request has arrived (rshell.broker.refusals.Lingering). A uid at its connection cap
        gets the line after CAP_REFUSAL_DELAY: it holds hundreds of connections already, and one
        that asks again the moment it is refused would cost the others the accept loop."""
        self.refusals.note(uid, gid, cap, message)
        answer = self._answers.get(message)
        if answer is None:  # a flood repeats a few messages: encode each once
            answer = encode(
                {"op": "end", "status": int(ExitStatus.DENIED), "error": {"code": "denied", "message": message}}
            )
            self._answers = {message: answer} if len(self._answers) > 64 else {**self._answers, message: answer}
        if cap == "connections_per_uid" and self.lingering.answer_later(conn, answer, CAP_REFUSAL_DELAY):
            return
        try:
            conn.send(answer, socket.MSG_DONTWAIT)
            conn.recv(65536, socket.MSG_DONTWAIT)  # read the request away, so the close is not a reset
        except BlockingIOError:  # the request is still on its way: close once it is here
            self.lingering.close_later(conn)
            return
        except OSError:
            pass  # the client is gone
        conn.close()

    def wait_for_requests(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.admission.open_connections() and time.monotonic() < deadline:
            time.sleep(0.05)
