"""A small threaded HTTP server that speaks ollama's documented API, for tests.

It follows docs/api.md and docs.ollama.com/api/errors: /api/generate streams NDJSON chunks and
a final chunk with durations in nanoseconds; unknown models get 404 ``{"error": "model 'x' not
found"}``; an error after the stream started is an ``{"error": ...}`` line under status 200.
One whitespace-separated word of the prompt counts as one token.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NS = 1_000_000_000


@dataclass
class FakeModel:
    """How one model behaves: token rates, load times, cache hits, delays and failures."""

    name: str
    family: str = "llama"
    parameter_size: str = "1.2B"
    quantization_level: str = "Q8_0"
    prompt_rate: float = 1024.0
    gen_rate: float = 64.0
    cold_load_ns: int = 2 * NS
    warm_load_ns: int = 10_000_000
    cached_tokens: int | None = None
    stop_after: int | None = None
    size: int = 1_300_000_000
    size_vram: int = 1_300_000_000
    context_length: int = 4096
    first_token_delay: float = 0.0
    token_interval: float = 0.0
    slow_from_call: int = 0
    error_on_call: int | None = None
    malformed_on_call: int | None = None


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    body: dict[str, Any] | None


@dataclass
class FakeOllama:
    """Start with ``with FakeOllama([FakeModel("m:1b")]) as server:``; ``server.url`` is the base URL."""

    models: list[FakeModel]
    version: str = "0.6.2"
    requests: list[Received] = field(default_factory=list)
    generate_calls: int = 0
    loaded: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> FakeOllama:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def model(self, name: str) -> FakeModel | None:
        return next((model for model in self.models if model.name == name), None)

    def generate_bodies(self) -> list[dict[str, Any]]:
        return [request.body or {} for request in self.requests if request.path == "/api/generate"]

    def paths(self) -> set[tuple[str, str]]:
        return {(request.method, request.path) for request in self.requests}


def _handler_for(server: FakeOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(_OllamaHandler):
        fake = server

    return Handler


class _OllamaHandler(BaseHTTPRequestHandler):
    fake: FakeOllama
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        self._record(None)
        routes = {"/api/version": self._version, "/api/tags": self._tags, "/api/ps": self._ps}
        routes.get(self.path, self._not_found)()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self._record(body)
        if self.path == "/api/show":
            self._show(body)
        elif self.path == "/api/generate":
            self._generate(body)
        else:
            self._not_found()

    def _record(self, body: dict[str, Any] | None) -> None:
        with self.fake.lock:
            self.fake.requests.append(Received(self.command, self.path, body))

    def _send_json(self, status: int, document: object) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self) -> None:
        self._send_json(404, {"error": "404 page not found"})

    def _version(self) -> None:
        self._send_json(200, {"version": self.fake.version})

    def _tags(self) -> None:
        self._send_json(200, {"models": [_tag_entry(model) for model in self.fake.models]})

    def _ps(self) -> None:
        loaded = [model for model in self.fake.models if model.name in self.fake.loaded]
        self._send_json(200, {"models": [_ps_entry(model) for model in loaded]})

    def _show(self, body: dict[str, Any]) -> None:
        model = self.fake.model(str(body.get("model")))
        if model is None:
            self._send_json(404, {"error": f"model '{body.get('model')}' not found"})
            return
        self._send_json(200, {"details": _details(model), "model_info": {"llama.context_length": 131072}})

    def _generate(self, body: dict[str, Any]) -> None:
        model = self.fake.model(str(body.get("model")))
        if model is None:
            self._send_json(404, {"error": f"model '{body.get('model')}' not found"})
            return
        with self.fake.lock:
            call = self.fake.generate_calls
            self.fake.generate_calls += 1
            cold = model.name not in self.fake.loaded
            self.fake.loaded.add(model.name)
        _GenerateStream(self, model, body, call, cold).send()


class _GenerateStream:
    """One streamed /api/generate answer: token chunks, then the final chunk with statistics."""

    def __init__(self, handler: _OllamaHandler, model: FakeModel, body: dict[str, Any], call: int, cold: bool) -> None:
        self.handler, self.model, self.call, self.cold = handler, model, call, cold
        options = body.get("options") or {}
        self.prompt_tokens = len(str(body.get("prompt", "")).split())
        limit = int(options.get("num_predict", 128))
        self.eval_count = min(limit, model.stop_after) if model.stop_after is not None else limit
        self.done_reason = "length" if self.eval_count >= limit else "stop"

    def send(self) -> None:
        self.handler.send_response(200)
        self.handler.send_header("Content-Type", "application/x-ndjson")
        self.handler.send_header("Transfer-Encoding", "chunked")
        self.handler.end_headers()
        try:
            self._body()
            self.handler.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return

    def _body(self) -> None:
        slow = self.call >= self.model.slow_from_call
        if slow and self.model.first_token_delay:
            time.sleep(self.model.first_token_delay)
        for index in range(self.eval_count):
            if self.call == self.model.error_on_call and index == 2:
                self._line({"error": "an error was encountered while running the model"})
                return
            if self.call == self.model.malformed_on_call and index == 1:
                self._raw(b'{"model": "broken", "response": \n')
                return
            self._line({"model": self.model.name, "created_at": _now(), "response": f" t{index}", "done": False})
            if slow and self.model.token_interval:
                time.sleep(self.model.token_interval)
        self._line(self._final())

    def _final(self) -> dict[str, Any]:
        model = self.model
        prompt_ns = round(self.prompt_tokens / model.prompt_rate * NS)
        eval_ns = round(self.eval_count / model.gen_rate * NS)
        load_ns = model.cold_load_ns if self.cold else model.warm_load_ns
        final: dict[str, Any] = {
            "model": model.name,
            "created_at": _now(),
            "response": "",
            "done": True,
            "done_reason": self.done_reason,
            "total_duration": load_ns + prompt_ns + eval_ns,
            "load_duration": load_ns,
            "prompt_eval_count": self.prompt_tokens,
            "prompt_eval_duration": prompt_ns,
            "eval_count": self.eval_count,
            "eval_duration": eval_ns,
        }
        if model.cached_tokens is not None:
            final["prompt_eval_cached_count"] = model.cached_tokens
        return final

    def _line(self, document: dict[str, Any]) -> None:
        self._raw(json.dumps(document).encode() + b"\n")

    def _raw(self, data: bytes) -> None:
        self.handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.handler.wfile.flush()


def _details(model: FakeModel) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": model.family,
        "families": [model.family],
        "parameter_size": model.parameter_size,
        "quantization_level": model.quantization_level,
    }


def _tag_entry(model: FakeModel) -> dict[str, Any]:
    return {"name": model.name, "model": model.name, "size": model.size, "details": _details(model)}


def _ps_entry(model: FakeModel) -> dict[str, Any]:
    return {
        **_tag_entry(model),
        "size_vram": model.size_vram,
        "expires_at": "2030-01-01T00:00:00Z",
        "context_length": model.context_length,
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
