"""The accept loop: each connection admitted or refused from its uid alone, then served in a thread.

It listens on the shared socket and on each uid's lane (rshell.broker.lanes), taking a few
connections from each ready queue in turn, none faster than its rate. Admission (rshell.broker.caps)
happens here, before any user-database lookup or thread start, so a uid at its caps costs the
others only an accept and a refusal; a refusal is one JSON ``end`` line with status 126, sent
without waiting.
"""

from __future__ import annotations

import contextlib
import math
import select
import socket
import threading
import time

from rshell.broker.caps import Admission, Caps, RateBuckets
from rshell.broker.handler import Peer, handle_connection, peer_of
from rshell.broker.lanes import Lanes
from rshell.broker.refusals import CAP_REFUSAL_DELAY, PACED, Lingering, Refusals
from rshell.broker.state import BrokerState, log
from rshell.engine.pool import STREAM_OWNER
from rshell.errors import ExitStatus
from rshell.protocol import encode

#: how long to wait after a failed accept (out of descriptors) before accepting again
ACCEPT_BACKOFF = 0.1
#: connections taken from the shared socket, and from each uid's lane, in one turn of the loop
SHARED_BATCH = 64
LANE_BATCH = 16
#: connections a second taken from the shared socket, all uids together (bursts of SHARED_BURST):
#: a uid's first connection, or one without a lane; past it they wait in the kernel's queue
SHARED_RATE = 1000
SHARED_BURST = 512
#: the key of the shared socket among the paused queues (the others are uids, never negative)
SHARED = -1


class Server:
    """The accept loop: admits or refuses each connection from its uid, then serves it in a thread."""

    def __init__(self, server: socket.socket, state: BrokerState, caps: Caps, lanes: Lanes, socket_group: str) -> None:
        self.server = server
        self.state = state
        self.lanes = lanes
        #: the group a user connecting through its lane must still be in (the shared socket's mode)
        self.socket_group = socket_group
        self._poller = select.poll()
        self._lane_of_fd: dict[int, int] = {}
        #: queues not listened to until then (monotonic): a uid's lane past its rate, or SHARED
        self._paused: dict[int, float] = {}
        self._shared_pace = RateBuckets(SHARED_RATE, SHARED_BURST)
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
        end a wait for connections, which a blocking accept in the main thread would never notice.

        Each turn takes what is ready: up to SHARED_BATCH from the shared socket (at most SHARED_RATE
        a second in all) and up to LANE_BATCH from each uid's lane (at most its connection rate); a
        queue past its rate is not listened to until its next token is due (rshell.broker.lanes)."""
        self.server.setblocking(False)
        self._poller.register(self.server, select.POLLIN)
        if wake is not None:
            self._poller.register(wake, select.POLLIN)
        while not self.stop.is_set():
            ready = self._poller.poll(self._until_resumed())
            if wake is not None and any(fd == wake.fileno() for fd, _events in ready):
                with contextlib.suppress(OSError):
                    wake.recv(4096)  # the signal's own handler has run, or runs now, in this thread
            if self.stop.is_set():
                return
            self._resume_due()
            refused: list[tuple[socket.socket, int, int, str, str]] = []
            for fd, _events in ready:
                if fd == self.server.fileno():
                    self._take(SHARED, refused)
                elif fd in self._lane_of_fd:
                    self._take(self._lane_of_fd[fd], refused)
            for refusal in refused:  # after every admitted connection of the turn has its thread
                self._refuse(*refusal)

    def _until_resumed(self) -> int | None:
        """poll's timeout (ms): until the first paused queue is due, or none."""
        if not self._paused:
            return None
        return max(0, math.ceil((min(self._paused.values()) - time.monotonic()) * 1000))

    def _pause(self, key: int, seconds: float) -> None:
        """Stop listening to a queue (a uid's lane, or SHARED) for ``seconds``: its connections wait in the kernel."""
        self._poller.unregister(self._queue(key))
        self._paused[key] = time.monotonic() + seconds

    def _resume_due(self) -> None:
        now = time.monotonic()
        for key in [key for key, due in self._paused.items() if due <= now]:
            del self._paused[key]
            self._poller.register(self._queue(key), select.POLLIN)

    def _queue(self, key: int) -> socket.socket:
        return self.server if key == SHARED else self.lanes.by_uid[key]

    def _take(self, key: int, refused: list[tuple[socket.socket, int, int, str, str]]) -> None:
        """Up to a turn's batch of one queue (a uid's lane, or SHARED), each accepted connection one of
        its tokens, refused or not: a uid that reconnects the moment it is refused costs the broker at
        most its rate. Out of tokens, the queue is paused: the rest waits in the kernel."""
        lane = key != SHARED
        queue = self._queue(key)
        pace = self.admission.pace if lane else self._shared_pace
        for _ in range(LANE_BATCH if lane else SHARED_BATCH):
            wait = pace.wait(key)
            if wait:
                if lane:  # the log says so once per burst, as for a connection paced on the shared socket
                    self.refusals.note(key, -1, PACED, self._pacing)
                self._pause(key, wait)
                return
            conn = self._accept(queue)
            if conn is None:
                return
            pace.take(key)
            self._admit(conn, refused, lane=lane)

    def _accept(self, queue: socket.socket) -> socket.socket | None:
        """The next connection of ``queue``, or None when it has none (or descriptors ran out)."""
        try:
            conn = queue.accept()[0]
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as error:
            if not self.stop.is_set():
                self._accept_failed(error)
            return None
        if self._accept_failures:
            log(f"accepting again after {self._accept_failures} failed accepts")
            self._accept_failures = 0
        return conn

    def _accept_failed(self, error: OSError) -> None:
        """Out of descriptors: wait for some to close, do not spin, and say so once per burst."""
        self._accept_failures += 1
        if self._accept_failures == 1:
            log(f"accept failed: {error}")
        time.sleep(ACCEPT_BACKOFF)

    def _admit(
        self, conn: socket.socket, refused: list[tuple[socket.socket, int, int, str, str]], *, lane: bool
    ) -> None:
        try:
            peer = peer_of(conn)
        except OSError:
            conn.close()
            return
        uid, gid = peer.uid, peer.gid
        if not lane and uid not in self.lanes.by_uid:
            self._open_lane(uid)
        admitted = self.admission.admit(uid, paced=lane)
        if isinstance(admitted, tuple):
            refused.append((conn, uid, gid, *admitted))
            return
        if admitted:
            self.refusals.note(uid, gid, PACED, self._pacing)
        group = self.socket_group if lane else None
        try:
            threading.Thread(target=self._serve_one, args=(conn, peer, admitted, group), daemon=True).start()
        except RuntimeError as error:  # no thread to spare: refuse this caller, keep serving the others
            self.admission.release(uid)
            refused.append((conn, uid, gid, "threads", f"the broker cannot start a thread ({error}); try again"))

    def _open_lane(self, uid: int) -> None:
        lane = self.lanes.open(uid)
        if lane is not None:
            self._lane_of_fd[lane.fileno()] = uid
            self._poller.register(lane, select.POLLIN)

    def _serve_one(self, conn: socket.socket, peer: Peer, wait: float, group: str | None) -> None:
        STREAM_OWNER.set(peer.uid)  # the engine's stream caps count this thread's streams against uid
        try:
            if wait and self.stop.wait(wait):  # past the uid's rate: its turn comes later
                return
            handle_connection(conn, self.state, peer, lane_group=group)
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
