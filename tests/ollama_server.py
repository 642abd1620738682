"""A small threaded HTTP server that speaks ollama's documented API, for tests.

It follows docs/api.md and docs.ollama.com/api/errors: /api/generate streams NDJSON chunks and
a final chunk with durations in nanoseconds (or, with ``stream: false``, answers one JSON
object); unknown models get 404 ``{"error": "model 'x' not found"}``; an error after the stream
started is an ``{"error": ...}`` line under status 200. One whitespace-separated word of the
prompt counts as one token, after a BOS token when the model adds one (``add_bos``, shown as
``tokenizer.ggml.add_bos_token`` in /api/show's model_info, as for GGUF models).

Counters and timing follow ollama's code paths, each cited where it is implemented below: the
generation clock starts when the first token is sampled, so ``eval_duration`` covers
``eval_count - 1`` decode steps; the prompt cache reuses the longest common prefix with the
model's previous prompt; ``prompt_eval_count`` excludes cached tokens before v0.30 and includes
them from v0.30 on, while ``prompt_eval_duration`` only ever covers the evaluated ones.

Failure modes, off by default, keyed by the generate call's index (0: the first): ``short``
(call -> tokens: the model stops early, ``done_reason: stop``), ``no_done`` (call -> tokens: the
stream ends without its final chunk), ``statuses`` (call -> (status, text): an error status
before the stream). Hostile modes: ``trickle`` (path -> seconds) sends that path's body a byte at
a time, ``deep`` (path -> levels) answers with a document nested that deep, ``oversize`` (path ->
bytes) with one that large; ``disconnects`` counts trickled answers the client cut off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.ollama_models import serve_load_or_unload, serve_pull
from tests.ollama_parallel import Timeline, stamp

NS = 1_000_000_000
#: spaces before a trickled JSON body: at a byte every 0.5 s, two minutes of it
TRICKLE_PADDING = 240
#: ollama's errors for these cases, word for word
BUSY = (503, "server busy, please try again.  maximum pending requests exceeded")  # server/sched.go ErrMaxQueue
RUNNER_STOPPED = (500, "model runner has unexpectedly stopped, this may be due to resource limitations")
BAD_REQUEST = (400, "invalid options: num_ctx")
#: the first release whose prompt_eval_count counts cached tokens (llm/llama_server.go,
#: ``llamaServerTimings.promptEvalCount() = CacheN + PromptN``, PR #16428)
COUNTS_CACHED_FROM = (0, 30)


@dataclass
class FakeModel:
    """How one model behaves: token rates, load times, delays and failures."""

    name: str
    family: str = "llama"
    parameter_size: str = "1.2B"
    quantization_level: str = "Q8_0"
    prompt_rate: float = 1024.0
    gen_rate: float = 64.0
    cold_load_ns: int = 2 * NS
    warm_load_ns: int = 10_000_000
    add_bos: bool = True
    #: a cloud model under a local-looking name: /api/show names its remote host
    remote: bool = False
    stop_after: int | None = None
    size: int = 1_300_000_000
    size_vram: int = 1_300_000_000
    context_length: int = 4096
    first_token_delay: float = 0.0
    #: seconds a cold load takes before the first token (server/sched.go loads the runner first)
    load_delay: float = 0.0
    token_interval: float = 0.0
    slow_from_call: int = 0
    error_on_call: int | None = None
    malformed_on_call: int | None = None
    #: layers, and the generation rate of the layers left on the CPU when num_gpu offloads fewer
    #: (llm/server.go: num_gpu is the layers offloaded; None: as fast as on the GPU)
    layers: int = 16
    cpu_gen_rate: float | None = None
    #: extra cost of each decode step per other sequence decoded with it (tests/ollama_parallel.py)
    batch_cost: float = 0.0

    def gpu_fraction(self, num_gpu: int | None) -> float:
        return 1.0 if num_gpu is None else min(max(num_gpu, 0), self.layers) / self.layers

    def decode_seconds(self, steps: int, num_gpu: int | None) -> float:
        """Decode time with ``num_gpu`` layers on the GPU: each token passes every layer in turn."""
        on_gpu = self.gpu_fraction(num_gpu)
        cpu_rate = self.cpu_gen_rate or self.gen_rate
        return steps * (on_gpu / self.gen_rate + (1 - on_gpu) / cpu_rate)

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.name}/{self.quantization_level}".encode()).hexdigest()


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    body: dict[str, Any] | None


@dataclass
class FakeOllama:
    """Start with ``with FakeOllama([FakeModel("m:1b")]) as server:``; ``server.url`` is the base URL.

    ``reports_cached`` adds ``prompt_eval_cached_count`` to the final chunk (ollama PR #17943).
    """

    models: list[FakeModel]
    version: str = "0.6.2"
    reports_cached: bool = False
    requests: list[Received] = field(default_factory=list)
    generate_calls: int = 0
    loaded: set[str] = field(default_factory=set)
    #: model -> the num_ctx it was loaded with, and the tokens its cache slot holds
    loaded_ctx: dict[str, int] = field(default_factory=dict)
    #: model -> the runner options it was loaded with (num_ctx, num_gpu, num_batch, num_thread)
    loaded_options: dict[str, tuple[object, ...]] = field(default_factory=dict)
    slots: dict[str, list[str]] = field(default_factory=dict)
    short: dict[int, int] = field(default_factory=dict)
    no_done: dict[int, int] = field(default_factory=dict)
    statuses: dict[int, tuple[int, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    trickle: dict[str, float] = field(default_factory=dict)
    deep: dict[str, int] = field(default_factory=dict)
    oversize: dict[str, int] = field(default_factory=dict)
    disconnects: int = 0
    #: models /api/pull can fetch (name -> layer sizes), and pulls the client cut off (tests/ollama_models.py)
    pullable: dict[str, list[int]] = field(default_factory=dict)
    pulls_cancelled: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    #: OLLAMA_NUM_PARALLEL, and how many generate requests arrive together (tests/ollama_parallel.py)
    num_parallel: int = 1
    gather: int = 1
    timeline: Timeline = field(init=False)
    #: called with (model, True) when a runner is loaded, (model, False) when it is unloaded: a test
    #: makes the fixture GPU tree show the runner's VRAM (tests/bench/test_model_vram.py)
    on_load: Callable[[str, bool], None] | None = None

    def __post_init__(self) -> None:
        self.timeline = Timeline(self.num_parallel, self.gather)

    def __enter__(self) -> FakeOllama:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()  # ends trickling answers too
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def counts_cached(self) -> bool:
        """Whether prompt_eval_count includes cached tokens (v0.30 and later)."""
        numbers = tuple(int(part) for part in self.version.split("-")[0].split(".")[:2])
        return numbers >= COUNTS_CACHED_FROM

    def model(self, name: str) -> FakeModel | None:
        """The model by name; ``llama3.2`` means ``llama3.2:latest`` (types/model/name.go)."""
        wanted = name if ":" in name.rpartition("/")[2] else f"{name}:latest"
        return next((model for model in self.models if model.name == wanted), None)

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
        if self._hostile():
            return
        routes = {"/api/version": self._version, "/api/tags": self._tags, "/api/ps": self._ps}
        routes.get(self.path, self._not_found)()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self._record(body)
        if self._hostile():
            return
        if self.path == "/api/show":
            self._show(body)
        elif self.path == "/api/generate":
            self._generate(body)
        elif self.path == "/api/pull":
            serve_pull(self, body)
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
        interval = self.fake.trickle.get(self.path)
        if interval is None:
            self.wfile.write(data)
        else:  # leading whitespace is valid JSON, and makes the trickle last
            self._trickle(b" " * TRICKLE_PADDING + data, interval, lambda byte: byte)

    def _trickle(self, data: bytes, interval: float, frame: Callable[[bytes], bytes]) -> bool:
        """Send ``data`` a byte every ``interval`` seconds; False when the client left or the server stops."""
        for index in range(len(data)):
            if self.fake.stopping.wait(interval):
                return False
            try:
                self.wfile.write(frame(data[index : index + 1]))
                self.wfile.flush()
            except OSError:
                with self.fake.lock:
                    self.fake.disconnects += 1
                return False
        return True

    def _hostile(self) -> bool:
        """Answer with a document nested ``deep`` levels or ``oversize`` bytes large, if asked to."""
        depth, size = self.fake.deep.get(self.path), self.fake.oversize.get(self.path)
        if depth is not None:
            data = b'{"models": ' + b"[" * depth + b"]" * depth + b', "done": true}'
        elif size is not None:
            data = b'{"models": [], "done": true, "padding": "' + b"x" * size + b'"}'
        else:
            return False
        if self.path == "/api/generate":
            data += b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(data)
        return True

    def _not_found(self) -> None:
        self._send_json(404, {"error": "404 page not found"})

    def _version(self) -> None:
        self._send_json(200, {"version": self.fake.version})

    def _tags(self) -> None:
        self._send_json(200, {"models": [_tag_entry(model) for model in self.fake.models]})

    def _ps(self) -> None:
        with self.fake.lock:
            loaded = [
                (model, self.fake.loaded_ctx.get(model.name), self.fake.loaded_options.get(model.name))
                for model in self.fake.models
            ]
            names = set(self.fake.loaded)
        entries = [_ps_entry(model, ctx, runner) for model, ctx, runner in loaded if model.name in names]
        self._send_json(200, {"models": entries})

    def _show(self, body: dict[str, Any]) -> None:
        model = self.fake.model(str(body.get("model")))
        if model is None:
            self._send_json(404, {"error": f"model '{body.get('model')}' not found"})
            return
        info = {
            "general.architecture": model.family,
            f"{model.family}.context_length": 131072,
            "tokenizer.ggml.add_bos_token": model.add_bos,
        }
        shown: dict[str, Any] = {"details": _details(model), "model_info": info, "modified_at": _MODIFIED}
        if model.remote:  # api.ShowResponse RemoteModel/RemoteHost, set for models that run on ollama.com
            shown |= {"remote_model": model.name, "remote_host": "https://ollama.com:443"}
        self._send_json(200, shown)

    def _generate(self, body: dict[str, Any]) -> None:
        model = self.fake.model(str(body.get("model")))
        if model is None:
            self._send_json(404, {"error": f"model '{body.get('model')}' not found"})
            return
        if serve_load_or_unload(self, model, body):  # an empty prompt loads, or unloads with keep_alive 0
            return
        with self.fake.lock:
            call = self.fake.generate_calls
            self.fake.generate_calls += 1
            failure = self.fake.statuses.get(call)
        if failure is not None:
            self._send_json(failure[0], {"error": failure[1]})
            return
        options = body.get("options") or {}
        num_ctx = int(options.get("num_ctx") or model.context_length)
        runner = (num_ctx, options.get("num_gpu"), options.get("num_batch"), options.get("num_thread"))
        with self.fake.lock:
            # server/sched.go needsReload: a loaded runner whose options differ is reloaded
            cold = (
                model.name not in self.fake.loaded
                or self.fake.loaded_ctx.get(model.name, model.context_length) != num_ctx
                or self.fake.loaded_options.get(model.name, runner) != runner
            )
            if cold:
                self.fake.slots.pop(model.name, None)
            self.fake.loaded.add(model.name)
            self.fake.loaded_ctx[model.name] = num_ctx
            self.fake.loaded_options[model.name] = runner
            if cold and self.fake.on_load is not None:
                self.fake.on_load(model.name, True)
            tokens = (["<s>"] if model.add_bos else []) + str(body.get("prompt", "")).split()
            cached = _cached_prefix(self.fake.slots.get(model.name, []), tokens)
            self.fake.slots[model.name] = tokens
        num_gpu = options.get("num_gpu")
        self.fake.timeline.wait_for_group()
        run = _Run(model, call, cold, len(tokens), cached, _predict(body), self.fake, num_gpu)
        run = dataclasses.replace(run, ended=self.fake.timeline.schedule(model.name, run.busy_seconds))
        if body.get("stream") is False:
            self._send_json(200, run.final())
        else:
            _GenerateStream(self, run).send()


def _cached_prefix(slot: list[str], tokens: list[str]) -> int:
    """Tokens reused from the slot: the longest common prefix, less one so the last prompt token is
    always evaluated (runner/llamarunner/cache.go LoadCacheSlot: ``if numPast == len(prompt)
    numPast--``; llama-server does the same for cache_n)."""
    common = 0
    for old, new in zip(slot, tokens, strict=False):
        if old != new:
            break
        common += 1
    return min(common, max(len(tokens) - 1, 0))


def _predict(body: dict[str, Any]) -> int:
    return int((body.get("options") or {}).get("num_predict", 128))


@dataclass(frozen=True)
class _Run:
    """What one generate call will produce: token count, how it ends, and its final counters."""

    model: FakeModel
    call: int
    cold: bool
    prompt_tokens: int
    cached: int
    limit: int
    fake: FakeOllama
    num_gpu: int | None = None
    #: virtual end on the model's slots (tests/ollama_parallel.py)
    ended: float = 0.0

    @property
    def eval_count(self) -> int:
        stops = [n for n in (self.model.stop_after, self.fake.short.get(self.call)) if n is not None]
        return min([self.limit, *stops])

    @property
    def _batch_factor(self) -> float:
        return 1 + self.model.batch_cost * (self.fake.timeline.sharing - 1)

    @property
    def prompt_ns(self) -> int:
        return round((self.prompt_tokens - self.cached) / self.model.prompt_rate * self._batch_factor * NS)

    @property
    def eval_ns(self) -> int:
        # runner/llamarunner/runner.go processBatch: ``if seq.numDecoded == 1 { seq.startGenerationTime
        # = time.Now() }`` and EvalDuration = time.Since(startGenerationTime): the first token is
        # sampled from the prompt batch, so eval_duration covers eval_count - 1 decode steps
        # (llama.cpp tools/server/server.cpp: ``n_decoded == 1`` sets t_start_generation).
        steps = max(self.eval_count - 1, 0)
        return round(self.model.decode_seconds(steps, self.num_gpu) * self._batch_factor * NS)

    @property
    def busy_seconds(self) -> float:
        """How long the runner's slot is busy with this request (the load happens before it)."""
        return (self.prompt_ns + self.eval_ns) / NS

    def final(self) -> dict[str, Any]:
        model, evaluated = self.model, self.prompt_tokens - self.cached
        prompt_ns, eval_ns = self.prompt_ns, self.eval_ns
        load_ns = model.cold_load_ns if self.cold else model.warm_load_ns
        final: dict[str, Any] = {
            "model": model.name,
            "created_at": stamp(self.ended),
            "response": "",
            "done": True,
            "done_reason": "length" if self.eval_count >= self.limit else "stop",
            "total_duration": load_ns + prompt_ns + eval_ns,
            "load_duration": load_ns,
            # before v0.30 the runner counts the evaluated inputs only (numPromptInputs); from v0.30
            # llm/llama_server.go reports promptEvalCount() = CacheN + PromptN, while
            # prompt_eval_duration stays PromptMS, the evaluated tokens' time
            "prompt_eval_count": self.prompt_tokens if self.fake.counts_cached else evaluated,
            "prompt_eval_duration": prompt_ns,
            "eval_count": self.eval_count,
            "eval_duration": eval_ns,
        }
        if self.fake.reports_cached:
            final["prompt_eval_cached_count"] = self.cached
        return final


class _GenerateStream:
    """One streamed /api/generate answer: token chunks, then the final chunk with statistics."""

    def __init__(self, handler: _OllamaHandler, run: _Run) -> None:
        self.handler, self.run, self.model, self.call = handler, run, run.model, run.call

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
        if self.run.cold and self.model.load_delay:
            time.sleep(self.model.load_delay)
        if slow and self.model.first_token_delay:
            time.sleep(self.model.first_token_delay)
        cut = self.handler.fake.no_done.get(self.call)
        for index in range(self.run.eval_count):
            if self.call == self.model.error_on_call and index == 2:
                self._line({"error": "an error was encountered while running the model"})
                return
            if self.call == self.model.malformed_on_call and index == 1:
                self._raw(b'{"model": "broken", "response": \n')
                return
            if cut is not None and index == cut:
                # llm/llama_server.go Completion: ``if tokenRepeat > 30 { return ctx.Err() }`` returns
                # nil, so the handler ends the stream cleanly with no final chunk
                return
            self._line({"model": self.model.name, "created_at": _now(), "response": f" t{index}", "done": False})
            if slow and self.model.token_interval:
                time.sleep(self.model.token_interval)
        self._line(self.run.final())

    def _line(self, document: dict[str, Any]) -> None:
        self._raw(json.dumps(document).encode() + b"\n")

    def _raw(self, data: bytes) -> None:
        interval = self.handler.fake.trickle.get(self.handler.path)
        if interval is not None:
            if not self.handler._trickle(data, interval, _chunk):
                raise BrokenPipeError("the trickled stream ended early")
            return
        self.handler.wfile.write(_chunk(data))
        self.handler.wfile.flush()


def _chunk(data: bytes) -> bytes:
    """One chunk of a chunked HTTP/1.1 body."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


_MODIFIED = "2026-11-30T12:00:00.000000000Z"


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
    """One /api/tags entry as server/routes.go ListHandler builds it (api.ListModelResponse)."""
    return {
        "name": model.name,
        "model": model.name,
        "modified_at": _MODIFIED,
        "size": model.size,
        "digest": model.digest,
        "details": _details(model),
    }


def _ps_entry(model: FakeModel, num_ctx: int | None, runner: tuple[object, ...] | None) -> dict[str, Any]:
    """One /api/ps entry (api.ProcessModelResponse): context_length is what the runner was loaded
    with, size_vram the share of the weights num_gpu offloaded."""
    num_gpu = runner[1] if runner and isinstance(runner[1], int) else None
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))
    return {
        "name": model.name,
        "model": model.name,
        "size": model.size,
        "digest": model.digest,
        "details": _details(model),
        "size_vram": round(model.size_vram * model.gpu_fraction(num_gpu)),
        "expires_at": expires,
        "context_length": num_ctx if num_ctx is not None else model.context_length,
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
