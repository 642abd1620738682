"""A small, read-mostly client for ollama's documented HTTP API, on ``http.client``.

Only five endpoints are reachable (nothing pulls, pushes, creates, copies or deletes). The base
URL comes from the policy; ``http.client`` never reads HTTP_PROXY and friends, so the
environment cannot redirect the traffic. Every call has a total deadline (enforced by
``rshell.ollama.watchdog``, so a server that trickles bytes cannot stretch it), every body and
line a size cap, every reply a nesting cap; a cancel cuts the open connection at once.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import threading
import time
from collections.abc import Generator, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from rshell.ollama.connect import open_socket, start_tls
from rshell.ollama.errors import (
    MalformedResponse,
    OllamaError,
    RequestCancelled,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
    StreamError,
    clean_text,
)
from rshell.ollama.watchdog import CANCELLED, DEADLINE, WATCHDOG, Watch, connections_of
from rshell.ollama.wire import Exchange, guarded, parse_object

_GET_PATHS, _POST_PATHS = ("/api/version", "/api/tags", "/api/ps"), ("/api/show", "/api/generate")
ALLOWED_ENDPOINTS = frozenset({("GET", path) for path in _GET_PATHS} | {("POST", path) for path in _POST_PATHS})
MAX_BODY_BYTES = 4 << 20
MAX_LINE_BYTES = 1 << 20
MAX_STREAM_BYTES = 64 << 20
__all__ = [
    "ALLOWED_ENDPOINTS",
    "MalformedResponse",
    "OllamaClient",
    "OllamaError",
    "RequestCancelled",
    "ServerError",
    "ServerTimeout",
    "ServerUnreachable",
    "StreamEndedEarly",
    "StreamError",
    "clean_text",
]


class OllamaClient:
    """One ollama server; each call opens its own connection and closes it.

    ``timeout`` is the total time one metadata call may take, and one generate call that has no
    ``deadline`` of its own; ``deadline`` (``time.monotonic()``) bounds every call of this client
    (a bench's total_timeout); a set ``cancel`` cuts the open call and refuses the next ones.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServerUnreachable(f"{base_url!r} is not an http:// or https:// URL")
        self.base_url, self.timeout, self.deadline = base_url, timeout, deadline
        self.cancel = cancel if cancel is not None else threading.Event()
        self.shown_url = clean_text(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path.rstrip('/')}")
        self._scheme, self._host, self._port, self._prefix = (
            parts.scheme,
            parts.hostname,
            parts.port or (443 if parts.scheme == "https" else 80),
            parts.path.rstrip("/"),
        )

    def version(self) -> str:
        return str(self._get_json("GET", "/api/version").get("version", "unknown"))

    def tags(self) -> list[dict[str, Any]]:
        return self._models("/api/tags")

    def running(self) -> list[dict[str, Any]]:
        return self._models("/api/ps")

    def show(self, model: str) -> dict[str, Any]:
        return self._get_json("POST", "/api/show", {"model": model})

    def generate_stream(
        self, model: str, prompt: str, options: Mapping[str, object], *, raw: bool = True, deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the NDJSON chunks of one /api/generate call, ending with the ``done`` chunk.

        ``deadline`` (``time.monotonic()`` seconds) bounds the whole call, not only each read.
        """
        body = {"model": model, "prompt": prompt, "raw": raw, "stream": True, "options": dict(options)}
        with self._open("POST", "/api/generate", body, deadline) as exchange:
            yield from _read_stream(exchange)

    def generate_request(
        self, body: Mapping[str, object], *, deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Like ``generate_stream`` with the whole request body given (``keep_alive`` and other
        top-level fields); ``stream`` is always true. A stream that ends cleanly without its
        ``done`` chunk raises ``StreamEndedEarly``."""
        with self._open("POST", "/api/generate", {**body, "stream": True}, deadline) as exchange:
            yield from _read_stream(exchange)

    def _models(self, path: str) -> list[dict[str, Any]]:
        with self._open("GET", path, None, None) as exchange:
            return _model_list(parse_object(exchange.read_body(MAX_BODY_BYTES), path), path)

    def _get_json(self, method: str, path: str, body: Mapping[str, object] | None = None) -> dict[str, Any]:
        with self._open(method, path, body, None) as exchange:
            return parse_object(exchange.read_body(MAX_BODY_BYTES), path)

    def _open(
        self, method: str, path: str, body: Mapping[str, object] | None, deadline: float | None
    ) -> contextlib.AbstractContextManager[Exchange]:
        """One request on a connection of its own, checked against the endpoints rshell may call."""
        if (method, path) not in ALLOWED_ENDPOINTS:
            raise ValueError(f"{method} {path} is not an endpoint rshell may call")
        return self._exchange(method, path, body, deadline)

    @contextlib.contextmanager
    def _exchange(
        self, method: str, path: str, body: Mapping[str, object] | None, deadline: float | None
    ) -> Iterator[Exchange]:
        if self.cancel.is_set():
            raise RequestCancelled("cancelled")
        started = time.monotonic()
        own = deadline if deadline is not None else started + self.timeout
        limit = min(own, self.deadline) if self.deadline is not None else own
        if limit <= started:
            raise ServerTimeout(f"ollama at {self.shown_url}: no time was left for {path}")
        connection = http.client.HTTPConnection(self._host, self._port, timeout=limit - started)
        watch: Watch | None = None
        try:
            watch = self._watch(guarded(lambda: open_socket(self._host, self._port, limit, self.cancel)), limit)
            tls = self._scheme == "https"
            connection.sock = guarded(functools.partial(start_tls, watch, self._host, limit)) if tls else watch.sock
            exchange = Exchange(connection, limit, path)
            exchange.send(method, self._prefix + path, body)
            yield exchange
        except OllamaError as error:
            raise self._explained(error, watch, path, limit - started) from None
        finally:
            self._unwatch(watch)
            connection.close()
            if watch is not None:  # a failed handshake left it out of the connection
                watch.sock.close()

    def _watch(self, sock: socket.socket, limit: float) -> Watch:
        watch = Watch(sock, limit)
        WATCHDOG.add(watch)
        connections_of(self.cancel).add(watch)
        if self.cancel.is_set():  # a plain Event runs no callback: look once more after watching
            watch.cut(CANCELLED)
        return watch

    def _unwatch(self, watch: Watch | None) -> None:
        if watch is not None:
            watch.finish()
            connections_of(self.cancel).discard(watch)

    def _explained(self, error: OllamaError, watch: Watch | None, path: str, allowed: float) -> OllamaError:
        """What a failure means once the watchdog had its say: a cut is a cancel or a timeout."""
        reason = watch.reason if watch is not None else None
        if reason == CANCELLED or self.cancel.is_set():
            return RequestCancelled("cancelled")
        if reason == DEADLINE or isinstance(error, ServerTimeout):
            return ServerTimeout(f"ollama at {self.shown_url} did not answer {path} within {allowed:.3g}s")
        if isinstance(error, MalformedResponse):
            return type(error)(f"ollama at {self.shown_url} sent an invalid reply ({error})")  # keeps StreamEndedEarly
        return error


class StreamEndedEarly(MalformedResponse):
    """A generate stream that ended cleanly before its ``done`` chunk (ollama does this when it
    aborts a repeating generation: llm/llama_server.go ``if tokenRepeat > 30 { return ctx.Err() }``)."""


def _read_stream(exchange: Exchange) -> Iterator[dict[str, Any]]:
    total = 0
    while True:
        line = exchange.readline(MAX_LINE_BYTES + 1)
        total += len(line)
        if not line:
            raise StreamEndedEarly("/api/generate: the stream ended before its final chunk")
        if len(line) > MAX_LINE_BYTES or total > MAX_STREAM_BYTES:
            raise MalformedResponse("/api/generate: the stream is larger than allowed")
        if not line.strip():
            continue
        chunk = parse_object(line, "/api/generate")
        if "error" in chunk:
            raise StreamError(f"the server reported an error mid-stream: {clean_text(str(chunk['error']))}")
        yield chunk
        if chunk.get("done") is True:
            return


def _model_list(document: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    models = document.get("models")
    if not isinstance(models, list):
        raise MalformedResponse(f"{where}: the model list has no 'models' array")
    return [model for model in models if isinstance(model, dict)]


#: what only ``pull`` may call (kept out of ALLOWED_ENDPOINTS, which bench and vram use)
PULL_ENDPOINT = ("POST", "/api/pull")


def pull_stream(
    client: OllamaClient, model: str, *, deadline: float | None = None
) -> Generator[dict[str, Any], None, None]:
    """Yield the progress objects of one ``/api/pull`` (api.ProgressResponse: status, digest, total,
    completed), ending with ``{"status": "success"}`` (server/images.go PullModel). Leaving early closes
    the connection, which cancels the pull: server/routes.go PullHandler runs PullModel in the request's
    context. An ``{"error": ...}`` object (how PullHandler reports a failure mid-stream) raises StreamError."""
    method, path = PULL_ENDPOINT
    with client._exchange(method, path, {"model": model, "stream": True}, deadline) as exchange:
        total = 0
        while True:
            line = exchange.readline(MAX_LINE_BYTES + 1)
            total += len(line)
            if not line:
                raise MalformedResponse(f"{path}: the stream ended before 'success'")
            if len(line) > MAX_LINE_BYTES or total > MAX_STREAM_BYTES:
                raise MalformedResponse(f"{path}: the stream is larger than allowed")
            if not line.strip():
                continue
            progress = parse_object(line, path)
            if "error" in progress:
                raise StreamError(f"the server reported an error: {clean_text(str(progress['error']))}")
            yield progress
            if progress.get("status") == "success":
                return
