"""A small, read-mostly client for ollama's documented HTTP API, on ``http.client``.

Only five endpoints are reachable (nothing pulls, pushes, creates, copies or deletes). The base
URL comes from the policy; ``http.client`` never reads HTTP_PROXY and friends, so the
environment cannot redirect the traffic. Every read has a timeout and every body a size cap.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

_GET_PATHS, _POST_PATHS = ("/api/version", "/api/tags", "/api/ps"), ("/api/show", "/api/generate")
ALLOWED_ENDPOINTS = frozenset({("GET", path) for path in _GET_PATHS} | {("POST", path) for path in _POST_PATHS})
MAX_BODY_BYTES = 4 << 20
MAX_LINE_BYTES = 1 << 20
MAX_STREAM_BYTES = 64 << 20
MAX_ERROR_TEXT = 300
T = TypeVar("T")


class OllamaError(Exception):
    """Any failure talking to ollama; the message is one line, safe to show."""


class ServerUnreachable(OllamaError):
    """Connection refused, unknown host, network down."""


class ServerTimeout(OllamaError):
    """The server did not answer within the time allowed."""


class MalformedResponse(OllamaError):
    """A body or stream line that is not the JSON object the API documents, or is too large."""


class StreamError(OllamaError):
    """An ``{"error": ...}`` line in the middle of a stream (the status is still 200)."""


class ServerError(OllamaError):
    """An HTTP error status, with ollama's ``{"error": ...}`` text."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text}")
        self.status, self.text = status, text


def clean_text(text: str) -> str:
    """Server text made safe for one line: control characters dropped, length capped."""
    printable = "".join(char if char.isprintable() else " " for char in text)
    return printable[:MAX_ERROR_TEXT].strip()


class OllamaClient:
    """One ollama server; each call opens its own connection and closes it."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServerUnreachable(f"{base_url!r} is not an http:// or https:// URL")
        self.base_url, self.timeout = base_url, timeout
        self._scheme, self._host, self._port, self._prefix = (
            parts.scheme,
            parts.hostname,
            parts.port,
            parts.path.rstrip("/"),
        )

    def version(self) -> str:
        return str(self._get_json("GET", "/api/version").get("version", "unknown"))

    def tags(self) -> list[dict[str, Any]]:
        return _model_list(self._get_json("GET", "/api/tags"))

    def running(self) -> list[dict[str, Any]]:
        return _model_list(self._get_json("GET", "/api/ps"))

    def show(self, model: str) -> dict[str, Any]:
        return self._get_json("POST", "/api/show", {"model": model})

    def generate_stream(
        self, model: str, prompt: str, options: Mapping[str, object], *, raw: bool = True, deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the NDJSON chunks of one /api/generate call, ending with the ``done`` chunk.

        ``deadline`` (``time.monotonic()`` seconds) bounds the whole call, not only each read.
        """
        body = {"model": model, "prompt": prompt, "raw": raw, "stream": True, "options": dict(options)}
        connection, response = self._open("POST", "/api/generate", body, deadline)
        try:
            yield from _read_stream(connection, response, deadline, self.timeout)
        finally:
            connection.close()

    def _get_json(self, method: str, path: str, body: Mapping[str, object] | None = None) -> dict[str, Any]:
        connection, response = self._open(method, path, body, None)
        try:
            data = _guarded(lambda: response.read(MAX_BODY_BYTES + 1))
        finally:
            connection.close()
        if len(data) > MAX_BODY_BYTES:
            raise MalformedResponse(f"{path}: the response is larger than {MAX_BODY_BYTES} bytes")
        return _parse_object(data, path)

    def _open(
        self, method: str, path: str, body: Mapping[str, object] | None, deadline: float | None
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        if (method, path) not in ALLOWED_ENDPOINTS:
            raise ValueError(f"{method} {path} is not an endpoint rshell may call")
        connection = (http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection)(
            self._host, self._port, timeout=_budget(deadline, self.timeout)
        )
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json", "Connection": "close"}
        try:
            _guarded(lambda: connection.request(method, self._prefix + path, body=payload, headers=headers))
            response = _guarded(connection.getresponse)
        except OllamaError:
            connection.close()
            raise
        if response.status != http.client.OK:
            text = _error_text(response)
            connection.close()
            raise ServerError(response.status, text)
        return connection, response


def _read_stream(
    connection: http.client.HTTPConnection, response: http.client.HTTPResponse, deadline: float | None, timeout: float
) -> Iterator[dict[str, Any]]:
    total = 0
    while True:
        if connection.sock is not None:
            connection.sock.settimeout(_budget(deadline, timeout))
        line = _guarded(lambda: response.readline(MAX_LINE_BYTES + 1))
        total += len(line)
        if not line:
            raise MalformedResponse("/api/generate: the stream ended before its final chunk")
        if len(line) > MAX_LINE_BYTES or total > MAX_STREAM_BYTES:
            raise MalformedResponse("/api/generate: the stream is larger than allowed")
        if not line.strip():
            continue
        chunk = _parse_object(line, "/api/generate")
        if "error" in chunk:
            raise StreamError(f"the server reported an error mid-stream: {clean_text(str(chunk['error']))}")
        yield chunk
        if chunk.get("done") is True:
            return


def _budget(deadline: float | None, timeout: float) -> float:
    """Seconds the next blocking call may take: the read timeout, shortened by the deadline."""
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ServerTimeout(f"no answer within the time allowed ({timeout:g}s per read)")
    return min(timeout, remaining)


def _guarded(call: Callable[[], T]) -> T:
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
    """ollama's ``{"error": "..."}`` text, else the body's first characters, else the reason."""
    try:
        data = response.read(MAX_BODY_BYTES)
        decoded = json.loads(data)
    except (OSError, http.client.HTTPException, ValueError):
        return response.reason
    if isinstance(decoded, dict) and "error" in decoded:
        return clean_text(str(decoded["error"]))
    return response.reason


def _parse_object(data: bytes, where: str) -> dict[str, Any]:
    try:
        decoded = json.loads(data)
    except ValueError:
        raise MalformedResponse(f"{where}: the server sent malformed JSON") from None
    if not isinstance(decoded, dict):
        raise MalformedResponse(f"{where}: expected a JSON object, got {type(decoded).__name__}")
    return decoded


def _model_list(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    models = document.get("models")
    if not isinstance(models, list):
        raise MalformedResponse("the server's model list has no 'models' array")
    return [model for model in models if isinstance(model, dict)]
