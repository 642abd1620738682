"""JSON-RPC framing for MCP on a byte stream: one message per line, each line capped, each fault answered.

The SDK's stdio transport reads a whole line before it looks at it and drops what it cannot parse
without an answer. Here each line is checked as JSON-RPC 2.0 (as MCP narrows it: ids are strings
or integers, ``params`` is an object, no batches) before the SDK sees it, and every line that is not
a message gets the error response JSON-RPC names: -32700 for what is not one JSON value, -32600 for
a value that is not a request, notification or response (with the request's id when it is usable).
A line longer than the cap is answered once and the rest of it is skipped as it arrives, never held.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.shared.message import SessionMessage

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


@dataclass(frozen=True)
class Refusal:
    """A line answered with an error instead of reaching the SDK."""

    id: str | int | None
    code: int
    message: str

    def response(self) -> SessionMessage:
        error = types.ErrorData(code=self.code, message=self.message)
        return SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=self.id, error=error))


@dataclass(frozen=True)
class Oversized:
    """A line past the cap: answered once; its bytes were not kept."""

    limit: int

    def refusal(self) -> Refusal:
        return Refusal(None, INVALID_REQUEST, f"Invalid Request: a message is longer than {self.limit} bytes")


class LineSplitter:
    """Bytes in, whole lines out; a line longer than ``limit`` becomes one Oversized and is skipped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending = bytearray()
        self.skipping = False

    def feed(self, chunk: bytes) -> Iterator[bytes | Oversized]:
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            start = len(chunk) if end < 0 else end + 1
            if not self.skipping and len(self.pending) + len(piece) > self.limit:
                self.pending.clear()
                self.skipping = True
                yield Oversized(self.limit)
            if not self.skipping:
                self.pending += piece
            if end >= 0:
                if not self.skipping:
                    yield bytes(self.pending)
                self.pending.clear()
                self.skipping = False


def classify(line: bytes) -> SessionMessage | Refusal | None:
    """The message a line carries, the error it earns, or None for a blank line."""
    if not line.strip():
        return None
    try:
        value = json.loads(line.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Refusal(None, PARSE_ERROR, "Parse error: a line must be one JSON value (UTF-8)")
    if isinstance(value, list):
        return Refusal(None, INVALID_REQUEST, "Invalid Request: batches are not supported, send one message per line")
    if not isinstance(value, dict):
        return Refusal(None, INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    return _message(value)


def _message(value: dict[str, Any]) -> SessionMessage | Refusal:
    usable_id = _usable_id(value.get("id"))
    problem = _problem(value, usable_id)
    if problem:
        return Refusal(usable_id, INVALID_REQUEST, f"Invalid Request: {problem}")
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_python(value, by_name=False))
    except ValueError:
        return Refusal(usable_id, INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message")


def _problem(value: dict[str, Any], usable_id: str | int | None) -> str:  # noqa: PLR0911 - one return per rule
    """What makes this object no JSON-RPC message MCP accepts; empty when nothing does."""
    if "id" in value and usable_id is None:
        return "id must be a string or an integer"
    if value.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "method" in value:
        if not isinstance(value["method"], str):
            return "method must be a string"
        if "params" in value and not isinstance(value["params"], dict):
            return "params must be an object"
        return ""
    if "result" not in value and "error" not in value:
        return "a message needs a method (request or notification) or a result or error (response)"
    return "" if usable_id is not None else "a response needs the id of its request"


def _usable_id(candidate: object) -> str | int | None:
    if isinstance(candidate, bool) or not isinstance(candidate, str | int):
        return None
    return candidate


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")
