"""The broker protocol: newline-delimited JSON objects, versioned, with a hard size limit.

Client to broker, one request per connection:
  {"v": 1, "op": "run", "line": "...", "mode": "c" | "batch" | "repl", "tty": [stdout_is_tty, stderr_is_tty]}
  {"v": 1, "op": "complete", "text": "text before the cursor"}
  {"v": 1, "op": "status"}
and, while a run is going on, {"v": 1, "op": "cancel"} (closing the connection cancels too).
Broker to client: a run's output as it is rendered (the broker renders with the same renderers a
local run uses), then its exit status, in the binary frames of rshell.frames; a request refused
before it runs, and every other request, get JSON lines such as
{"op": "end", "status": N, "error": null | {"code": "...", "message": "..."}}.
The caller's identity never travels in a message: the broker reads it from the kernel.
"""

from __future__ import annotations

import json
import time

from rshell.frames import VERSION, ProtocolError

#: typing is not imported on the client's start-up path; mypy treats this name as True
TYPE_CHECKING = False

if TYPE_CHECKING:
    import _socket
    from typing import Any

__all__ = ["MAX_MESSAGE_BYTES", "MAX_REPLY_BYTES", "OUTPUT_CHUNK", "VERSION", "LineReader", "ProtocolError"]

#: the largest request the broker accepts, newline included
MAX_MESSAGE_BYTES = 64 * 1024
#: the largest reply line the client accepts (output comes in chunks well below it)
MAX_REPLY_BYTES = 4 * 1024 * 1024
#: output is sent in pieces of at most this many characters
OUTPUT_CHUNK = 256 * 1024


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps({"v": VERSION, **message}, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


def decode(line: bytes, limit: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    if len(line) > limit or not line.endswith(b"\n"):
        raise ProtocolError("message too large or not terminated")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise ProtocolError("message is not JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("message is not a JSON object")
    if message.get("v") != VERSION:
        raise ProtocolError(f"unsupported protocol version {message.get('v')!r}")
    return message


class LineReader:
    """Reads newline-terminated messages from a socket, refusing any longer than the limit."""

    def __init__(self, sock: _socket.socket, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.sock = sock
        self.limit = limit
        self._buffer = b""

    def rest(self) -> bytes:
        """Bytes received past the last message (when the connection turns into a raw stream)."""
        rest, self._buffer = self._buffer, b""
        return rest

    def read(self, deadline: float | None = None) -> dict[str, Any] | None:
        """The next message, None at a clean end of stream; ProtocolError otherwise. With a
        ``deadline`` (time.monotonic()), a message not complete by then raises TimeoutError,
        however slowly its bytes keep arriving."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > self.limit:
                raise ProtocolError("message too large")
            if deadline is not None:
                self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = self.sock.recv(65536)
            if not chunk:
                if self._buffer:
                    raise ProtocolError("connection closed in the middle of a message")
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return decode(line + b"\n", self.limit)
