"""One client connection: who it is (from the kernel), what it asks, and the events sent back."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Any

from rshell import __version__
from rshell.broker.output import ClientOutput
from rshell.broker.state import BrokerState, log
from rshell.executor import Session
from rshell.lexer import MAX_LINE_BYTES
from rshell.policy.view import Principal
from rshell.protocol import LineReader, ProtocolError, encode
from rshell.render.streams import Streams
from rshell.runner import run_line

MODES = frozenset({"c", "batch", "repl"})
#: how long a client may take to send its request before the connection is dropped
REQUEST_TIMEOUT = 10.0


def peer_principal(conn: socket.socket) -> Principal:
    """The caller as the kernel reports it (SO_PEERCRED); nothing the client says can change it."""
    credentials = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, gid = struct.unpack("3i", credentials)
    return Principal.from_uid(uid, gid)


def handle_connection(conn: socket.socket, state: BrokerState) -> None:
    with conn:
        try:
            principal = peer_principal(conn)
            conn.settimeout(REQUEST_TIMEOUT)
            reader = LineReader(conn)
            request = reader.read()
            if request is None:
                return
            conn.settimeout(None)
            _dispatch(conn, reader, request, principal, state)
        except ProtocolError as error:
            log(f"closing a connection: {error}")
            with contextlib.suppress(OSError):
                conn.sendall(encode({"op": "end", "status": 2, "error": {"code": "protocol", "message": str(error)}}))
        except OSError as error:
            log(f"connection ended: {error}")


def _dispatch(
    conn: socket.socket, reader: LineReader, request: dict[str, Any], principal: Principal, state: BrokerState
) -> None:
    op = request.get("op")
    if op == "run":
        _run(conn, reader, request, principal, state)
    elif op == "complete":
        conn.sendall(encode({"op": "completions", "completions": _complete(request, principal, state)}))
    elif op == "status":
        conn.sendall(encode({"op": "status", **_status(principal, state)}))
    else:
        raise ProtocolError(f"unexpected request {op!r}")


def _run(
    conn: socket.socket, reader: LineReader, request: dict[str, Any], principal: Principal, state: BrokerState
) -> None:
    line, mode, tty = request.get("line"), request.get("mode", "c"), request.get("tty", [False, False])
    if not isinstance(line, str) or len(line) > 4 * MAX_LINE_BYTES or mode not in MODES:
        raise ProtocolError("a run request needs a line (string) and a mode (c, batch or repl)")
    if not isinstance(tty, list) or len(tty) != 2 or not all(isinstance(flag, bool) for flag in tty):
        raise ProtocolError("tty must be a pair of booleans")
    session = state.session_for(principal, str(mode))
    lock = threading.Lock()
    streams = Streams(ClientOutput(conn, 1, lock), ClientOutput(conn, 2, lock), tty[0], tty[1])
    threading.Thread(target=_watch_for_cancel, args=(reader, session), daemon=True).start()
    try:
        status = run_line(session, line, streams)
    finally:
        session.cancel.set()
    with lock:
        conn.sendall(encode({"op": "end", "status": int(status), "error": None}))


def _watch_for_cancel(reader: LineReader, session: Session) -> None:
    """A cancel message, the client closing, or anything malformed cancels the running verb."""
    with contextlib.suppress(ProtocolError, OSError):
        while not session.cancel.is_set():
            message = reader.read()
            if message is None or message.get("op") == "cancel":
                break
    session.cancel.set()


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
