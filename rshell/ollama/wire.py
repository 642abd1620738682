"""One HTTP exchange with ollama: every read bounded by the deadline, bodies capped, replies checked."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from rshell.ollama.errors import MalformedResponse, ServerError, ServerTimeout, ServerUnreachable, clean_text

#: ollama's documented replies are a few levels deep; deeper ones are refused, not walked
MAX_JSON_DEPTH = 64
READ_CHUNK = 65536
#: an error reply carries one message; more than this is not read
MAX_ERROR_BODY_BYTES = 64 << 10
T = TypeVar("T")


class Exchange:
    """One request and its response, every read bounded by what is left of the deadline."""

    def __init__(self, connection: http.client.HTTPConnection, deadline: float, path: str) -> None:
        self.connection, self.deadline, self.path = connection, deadline, path
        self.response: http.client.HTTPResponse | None = None

    def send(self, method: str, target: str, body: Mapping[str, object] | None) -> None:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json", "Connection": "close"}
        self.arm()
        guarded(lambda: self.connection.request(method, target, body=payload, headers=headers))
        self.arm()
        response = guarded(self.connection.getresponse)
        if response.status != http.client.OK:
            raise ServerError(response.status, _error_text(response))
        self.response = response

    def arm(self) -> None:
        """Let the next blocking step wait only for what is left of the deadline."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ServerTimeout(f"{self.path}: no answer in time")
        if self.connection.sock is not None:
            self.connection.sock.settimeout(remaining)

    def read_body(self, cap: int) -> bytes:
        """The whole body, read in chunks; more than ``cap`` bytes is refused, not buffered."""
        assert self.response is not None, "send() comes first"
        response, total = self.response, 0
        chunks: list[bytes] = []
        while True:
            self.arm()
            chunk = guarded(lambda: response.read1(READ_CHUNK))
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > cap:
                raise MalformedResponse(f"{self.path}: the response is larger than {cap} bytes")
            chunks.append(chunk)

    def readline(self, cap: int) -> bytes:
        assert self.response is not None, "send() comes first"
        response = self.response
        self.arm()
        return guarded(lambda: response.readline(cap))


def guarded(call: Callable[[], T]) -> T:
    """Run one network step, turning socket errors into OllamaError subclasses."""
    try:
        return call()
    except TimeoutError:
        raise ServerTimeout("the server did not answer in time") from None
    except ConnectionRefusedError:
        raise ServerUnreachable("connection refused: is ollama running there?") from None
    except socket.gaierror as error:
        raise ServerUnreachable(f"cannot resolve the host: {error.strerror}") from None
    except (OSError, http.client.HTTPException) as error:
        raise ServerUnreachable(f"connection failed: {clean_text(str(error)) or type(error).__name__}") from None


def _error_text(response: http.client.HTTPResponse) -> str:
    """ollama's ``{"error": "..."}`` text, else the reason (a cut, huge or deep body: the reason)."""
    try:
        data = response.read(MAX_ERROR_BODY_BYTES)
        decoded = json.loads(data)
    except (OSError, http.client.HTTPException, ValueError, RecursionError):
        return clean_text(response.reason)
    if isinstance(decoded, dict) and "error" in decoded:
        return clean_text(str(decoded["error"]))
    return response.reason


def parse_object(data: bytes, where: str) -> dict[str, Any]:
    try:
        decoded = json.loads(data)
    except RecursionError:  # nesting deeper than the parser goes
        raise MalformedResponse(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise MalformedResponse(f"{where}: the server sent malformed JSON") from None
    if not isinstance(decoded, dict):
        raise MalformedResponse(f"{where}: expected a JSON object, got {type(decoded).__name__}")
    if _too_deep(decoded, MAX_JSON_DEPTH):
        raise MalformedResponse(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels")
    return decoded


def _too_deep(document: object, limit: int) -> bool:
    """Whether lists and objects nest deeper than ``limit`` (walked without recursion)."""
    pending: list[tuple[object, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                pending.append((child, depth + 1))
    return False
