"""What travels on the thin client's start-up path: the run request, written as JSON by hand, and
the broker's replies to it as binary frames, read without the json module.

``import json`` pulls in re, enum, functools and collections: about as long as the rest of the
client's start-up together. A frame is one kind byte, a 4-byte big-endian length and the payload:
``1`` and ``2`` carry UTF-8 text for stdout and stderr, ``E`` the exit status in ASCII digits. A
broker that refuses the request before running it answers with one JSON line instead (it starts
with ``{``), which the client then reads with json after all.
"""

from __future__ import annotations

#: typing is not imported on the client's start-up path; mypy treats this name as True
TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

VERSION = 1
STDOUT, STDERR, END, JSON_LINE = b"1", b"2", b"E", b"{"
#: what the client sends while a run goes on, when the person presses Ctrl-C
CANCEL = b'{"v":1,"op":"cancel"}\n'
HEADER_BYTES = 5
#: the largest frame either side accepts (output is sent in pieces well below it)
MAX_FRAME_BYTES = 4 * 1024 * 1024


class ProtocolError(Exception):
    """A message that is malformed, oversized, of another version, or unexpected."""


def frame(kind: bytes, payload: bytes) -> bytes:
    return kind + len(payload).to_bytes(4, "big") + payload


def json_string(text: str) -> str:
    """``text`` as a JSON string literal, ASCII only (surrogates kept as escapes, as json does)."""
    parts = ['"']
    for char in text:
        code = ord(char)
        if 0x20 <= code < 0x7F and char not in '"\\':
            parts.append(char)
        elif code > 0xFFFF:
            code -= 0x10000
            parts.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            parts.append(f"\\u{code:04x}")
    parts.append('"')
    return "".join(parts)


def run_request(line: str, mode: str, tty: tuple[bool, bool]) -> bytes:
    flags = ",".join("true" if flag else "false" for flag in tty)
    body = f'{{"v":{VERSION},"op":"run","line":{json_string(line)},"mode":{json_string(mode)},"tty":[{flags}]}}'
    return (body + "\n").encode("ascii")


def frames_of(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every (kind, payload) in a whole reply, JSON lines included as (JSON_LINE, line)."""
    found: list[tuple[bytes, bytes]] = []
    while data:
        if data[:1] == JSON_LINE:
            line, _, data = data.partition(b"\n")
            found.append((JSON_LINE, line))
            continue
        size = int.from_bytes(data[1:HEADER_BYTES], "big")
        found.append((data[:1], data[HEADER_BYTES : HEADER_BYTES + size]))
        data = data[HEADER_BYTES + size :]
    return found


class FrameReader:
    """Frames from a socket, and the one JSON line a refusing broker sends instead."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def next(self) -> tuple[bytes, bytes]:
        """The next (kind, payload); (JSON_LINE, line) for a JSON answer. ProtocolError at a bad or
        truncated frame, or when the broker closes before its end frame."""
        self._fill(1)
        if self._buffer[:1] == JSON_LINE:
            while b"\n" not in self._buffer:
                self._fill(len(self._buffer) + 1)
            line, _, self._buffer = self._buffer.partition(b"\n")
            return JSON_LINE, line
        self._fill(HEADER_BYTES)
        size = int.from_bytes(self._buffer[1:HEADER_BYTES], "big")
        if size > MAX_FRAME_BYTES:
            raise ProtocolError("frame too large")
        self._fill(HEADER_BYTES + size)
        kind, payload = self._buffer[:1], self._buffer[HEADER_BYTES : HEADER_BYTES + size]
        self._buffer = self._buffer[HEADER_BYTES + size :]
        return kind, payload

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            if len(self._buffer) > MAX_FRAME_BYTES + HEADER_BYTES:
                raise ProtocolError("reply too large")
            chunk = self.sock.recv(max(65536, size - len(self._buffer)))
            if not chunk:
                raise ProtocolError("the broker closed the connection")
            self._buffer += chunk
