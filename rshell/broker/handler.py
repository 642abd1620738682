"""One client connection: who it is (from the kernel), what it asks, and the events sent back."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Any, NamedTuple

from rshell import __version__
from rshell.approvals.review import APPROVAL_OPS, review
from rshell.broker.output import ClientOutput
from rshell.broker.refusals import log_sparingly
from rshell.broker.state import BrokerState, log
from rshell.errors import Denied, ExitStatus, RshellError
from rshell.executor import Session, audit_refused_line
from rshell.frames import END, frame
from rshell.lexer import MAX_LINE_BYTES
from rshell.policy.view import Principal
from rshell.protocol import LineReader, ProtocolError, encode
from rshell.render.streams import Streams
from rshell.runner import run_line
from rshell.verb import CancelSignal

MODES = frozenset({"c", "batch", "repl"})
#: how long a client may take to send its request before the connection is dropped
REQUEST_TIMEOUT = 10.0


class Peer(NamedTuple):
    """The process that connected, as the kernel recorded it at connect() (SO_PEERCRED): read once,
    by the accept loop; nothing the client says can change it."""

    pid: int
    uid: int
    gid: int


CRED_SIZE = struct.calcsize("3i")


def peer_of(conn: socket.socket) -> Peer:
    return Peer(*struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, CRED_SIZE)))


def handle_connection(conn: socket.socket, state: BrokerState, peer: Peer, *, lane_group: str | None = None) -> None:
    """Serve one connection of ``peer``; its groups come from the user database (Principal.from_uid),
    never from the peer's egid. ``lane_group``: the connection came through the peer's own lane
    (rshell.broker.lanes), and its user must still be in this group, the shared socket's."""
    with conn:
        try:
            reader = LineReader(conn)
            request = reader.read(deadline=time.monotonic() + REQUEST_TIMEOUT)
            if request is None:
                return
            conn.settimeout(None)
            _dispatch(conn, reader, request, state, peer, lane_group=lane_group)
        except ProtocolError as error:
            log_sparingly(f"closing a connection: {error}")
            _end(conn, ExitStatus.USAGE, "protocol", str(error))
        except RshellError as error:  # e.g. "cannot identify the caller (...)": the user database is out of reach
            log_sparingly(f"refusing a request: {error.message}")
            _end(conn, error.status, error.code, error.message)
        except OSError as error:
            log_sparingly(f"connection ended: {error}")
        except Exception as error:  # a bug costs this connection one line, never the broker a thread's traceback
            log(f"internal error: {type(error).__name__}: {error}")
            _end(conn, ExitStatus.FAILED, "failed", "internal error in the broker")
        finally:  # wakes the cancel watcher and tells the client the broker is done, even if it never closes
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def _end(conn: socket.socket, status: int, code: str, message: str) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(encode({"op": "end", "status": int(status), "error": {"code": code, "message": message}}))


def _dispatch(
    conn: socket.socket,
    reader: LineReader,
    request: dict[str, Any],
    state: BrokerState,
    peer: Peer,
    *,
    lane_group: str | None,
) -> None:
    op = request.get("op")
    if not isinstance(op, str):  # a list or mapping here would reach the set lookups below
        raise ProtocolError("a request needs an op (a string)")
    principal = state.principal(peer.uid)
    if lane_group is not None and peer.uid != 0 and lane_group not in principal.groups:
        raise Denied(f"your user is no longer in the group {lane_group!r} that may use the broker")
    if op == "run":
        _run(conn, reader, request, state.session_for(principal, _mode(request), peer.pid), state)
    elif op == "complete":
        conn.sendall(encode({"op": "completions", "completions": _complete(request, principal, state)}))
    elif op == "status":
        conn.sendall(encode({"op": "status", **_status(principal, state)}))
    elif op == "mcp":
        _mcp(conn, state.session_for(principal, "mcp", peer.pid))
    elif op in APPROVAL_OPS:  # the approver is who the kernel says connected, nothing typed
        conn.sendall(encode(review(request, state.session_for(principal, "ctl"), peer.pid)))
    else:
        raise ProtocolError(f"unexpected request {op!r}")


def _mode(request: dict[str, Any]) -> str:
    mode = request.get("mode", "c")
    if not isinstance(mode, str) or mode not in MODES:
        raise ProtocolError("a run request needs a line (string) and a mode (c, batch or repl)")
    return mode


def _run(
    conn: socket.socket, reader: LineReader, request: dict[str, Any], session: Session, state: BrokerState
) -> None:
    """One line; ``session`` carries the client's pid as the kernel reported it, for the audit."""
    line, tty = request.get("line"), request.get("tty", [False, False])
    if not isinstance(line, str) or len(line) > 4 * MAX_LINE_BYTES:
        raise ProtocolError("a run request needs a line (string) and a mode (c, batch or repl)")
    if not isinstance(tty, list) or len(tty) != 2 or not all(isinstance(flag, bool) for flag in tty):
        raise ProtocolError("tty must be a pair of booleans")
    lock = threading.Lock()
    streams = Streams(ClientOutput(conn, 1, lock), ClientOutput(conn, 2, lock), tty[0], tty[1])
    assert isinstance(session.cancel, CancelSignal)
    if _gone(conn):  # the client closed right after its request: nothing to run it for
        return
    if reader.rest():  # the client sent more than its request: only a cancel may follow it
        session.cancel.set()
    state.cancel_watcher.watch(conn, session.cancel)
    _limit_sends(conn, state.send_timeout)
    try:
        status = run_line(session, line, streams)
    finally:
        state.cancel_watcher.forget(conn)
        session.cancel.set()
    with lock:
        conn.sendall(frame(END, str(int(status)).encode("ascii")))


def _gone(conn: socket.socket) -> bool:
    """Whether the client has closed its end already (a peek, nothing read)."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _mcp(conn: socket.socket, session: Session) -> None:
    """Serve MCP on this connection: after the answer line, it carries the JSON-RPC stream itself."""
    decision = session.view.decide_verb("mcp")
    if not decision.allowed:
        audit_refused_line(session, "mcp", Denied(decision.reason))
        error = {"code": "denied", "message": decision.reason}
        conn.sendall(encode({"op": "end", "status": int(ExitStatus.DENIED), "error": error}))
        return
    try:  # before answering: a broker without the MCP SDK refuses in one line, never a half-open session
        from rshell.mcp.server import run_mcp  # noqa: PLC0415 - the MCP SDK only for MCP sessions
    except ImportError as error:
        log(f"mcp unavailable: {type(error).__name__}: {error}")
        message = f"MCP is not available in the broker: install rshell[mcp] ({error})"
        _end(conn, ExitStatus.FAILED, "failed", message)
        return
    conn.sendall(encode({"op": "mcp"}))
    from rshell.mcp.wire import Channel  # noqa: PLC0415

    run_mcp(session, Channel(read=conn.recv, write=conn.sendall))  # framed: each message capped, each fault answered


def _limit_sends(conn: socket.socket, seconds: float) -> None:
    """A client that leaves the output unread for ``seconds`` ends its request (its send fails), so it
    cannot hold a broker thread and an engine stream. Only sends: the socket stays blocking, and the
    cancel watcher's reads are unaffected."""
    whole = int(seconds)
    timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def _complete(request: dict[str, Any], principal: Principal, state: BrokerState) -> list[list[Any]]:
    from prompt_toolkit.completion import CompleteEvent  # noqa: PLC0415
    from prompt_toolkit.document import Document  # noqa: PLC0415

    from rshell.completion import Candidates, SpecCompleter  # noqa: PLC0415

    text = request.get("text")
    if not isinstance(text, str) or len(text) > MAX_LINE_BYTES:
        raise ProtocolError("a complete request needs the text before the cursor")
    completer = SpecCompleter(Candidates(state.session_for(principal, "repl")))
    completions = completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    return [[completion.text, completion.start_position] for completion in completions]


def _status(principal: Principal, state: BrokerState) -> dict[str, Any]:
    session = state.session_for(principal, "status")
    return {
        "version": __version__,
        "policy": str(state.policy_path),
        "user": principal.user,
        "role": session.view.role_name,
        "engine": session.engine.url,
    }
