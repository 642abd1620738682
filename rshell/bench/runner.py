"""Run a bench plan against one ollama server, keeping every sample as it arrives.

The runner is the only place that sends /api/generate. What it measured lives on the runner
(``models``), so when a run fails, times out or is interrupted the caller still has the partial
results to report and store. A short run (fewer tokens than asked, or a stream without its final
chunk) is retried with a fresh prompt up to MAX_RETRIES times, then left out of the statistics
and reported; "server busy" (503, server/sched.go ErrMaxQueue) is retried after a backoff.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rshell.bench.matrix import Setup, label
from rshell.bench.method import MAX_RETRIES, WARMUP_PREDICT, BenchPlan, Workload
from rshell.bench.metrics import NO_DONE, RunSample, counts_cached_tokens
from rshell.bench.parallel import Round, concurrently
from rshell.bench.prompts import PromptMaker
from rshell.bench.unload import UnloadCancelled, unload
from rshell.events import Event, Progress
from rshell.ollama import OllamaClient, OllamaError, RequestCancelled, ServerError, ServerTimeout
from rshell.ollama.client import StreamEndedEarly

T = TypeVar("T")
#: seconds to wait before resending after each 503 "server busy"
BUSY_BACKOFF_S = (0.25, 0.5, 1.0, 2.0)
HTTP_BUSY = 503


class BenchCancelled(Exception):
    """The cancel signal was set while a bench was running."""


class RemoteModel(OllamaError):
    """The server says the model runs elsewhere (a cloud model under a local-looking name)."""


@dataclass
class ModelRecord:
    """What is known about one model so far: details from the server and the samples per test."""

    name: str
    details: dict[str, Any] = field(default_factory=dict)
    model_info: dict[str, Any] = field(default_factory=dict)
    tag: dict[str, Any] = field(default_factory=dict)
    was_loaded: bool = False
    cold_load_s: float | None = None
    running: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[RunSample]] = field(default_factory=dict)
    #: every short attempt per test, and how many runs stayed short after every retry
    short: dict[str, list[RunSample]] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    busy_retries: int = 0
    #: the runner options of this row of the matrix, and what tells it from the other rows
    setup: Setup = field(default_factory=Setup)
    setup_label: str = ""
    setup_values: dict[str, int | None] = field(default_factory=dict)
    #: what became of the model before the next one: "unloaded", or why not (None: last model)
    unloaded: str | None = None
    #: --parallel: each timed run's concurrent streams, per test
    rounds: dict[str, list[Round]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The model, with its matrix setup when it has one: ``llama3.2:1b [num_gpu=24]``."""
        return f"{self.name} [{self.setup_label}]" if self.setup_label else self.name

    @property
    def adds_bos(self) -> bool:
        """GGUF's tokenizer.ggml.add_bos_token from /api/show (most models add one when unsaid)."""
        return self.model_info.get("tokenizer.ggml.add_bos_token") is not False


class BenchRunner:
    """Executes warm-up and timed runs, one model at a time, yielding Progress events."""

    def __init__(
        self,
        client: OllamaClient,
        plan: BenchPlan,
        cancel: threading.Event,
        clock: Callable[[], float],
        *,
        total_deadline: float | None = None,
        tags: list[dict[str, Any]] | None = None,
    ) -> None:
        """``total_deadline`` (``time.monotonic()``): when total_timeout runs out; default from now."""
        self.client, self.plan, self.cancel, self.clock = client, plan, cancel, clock
        self.models: list[ModelRecord] = []
        self._tags = {str(entry.get("name")): entry for entry in tags or []}
        self._done = 0
        self._total_deadline = total_deadline if total_deadline is not None else time.monotonic() + plan.total_timeout
        #: told when a model's phase starts (its key; None: between models) and when it should be
        #: sampled while still loaded (the models' own VRAM, rshell/bench/modelvram.py)
        self.on_phase: Callable[[str | None], None] = lambda key: None
        self.on_sample: Callable[[], None] = lambda: None

    def run(self) -> Iterator[Event]:
        for model in self.plan.models:
            shown = self._metadata(model, "show", functools.partial(self.client.show, model))
            if shown.get("remote_host") or shown.get("remote_model"):
                # /api/show of a cloud model names where it runs (api.ShowResponse RemoteHost/RemoteModel)
                raise RemoteModel(f"{model}: /api/show says it runs remotely; only local models can be benchmarked")
            for setup in self.plan.setups:
                record = ModelRecord(model, details=_object(shown, "details"), model_info=_object(shown, "model_info"))
                record.tag, record.setup = self._tags.get(model, {}), setup
                record.setup_label = label(setup, self.plan.setups)
                record.setup_values = setup.to_json(self.plan.num_ctx)
                num_ctx = setup.num_ctx or self.plan.num_ctx
                loaded = self._metadata(model, "ps", self.client.running)
                # loaded with another num_ctx (or, in a matrix, other options), the warm-up reloads it
                # (server/sched.go needsReload)
                record.was_loaded = setup is self.plan.setups[0] and any(
                    entry.get("name") == model and entry.get("context_length") in (None, num_ctx) for entry in loaded
                )
                self.models.append(record)
                self.on_phase(record.key)
                yield from self._bench_model(record)
                self.on_sample()
                loaded = self._metadata(model, "ps", self.client.running)
                record.running = next((entry for entry in loaded if entry.get("name") == model), {})
            if model != self.plan.models[-1]:
                self.on_phase(None)
                try:
                    record.unloaded = unload(self.client, model, self.cancel, self._total_deadline)
                except UnloadCancelled:
                    raise BenchCancelled from None
        yield Progress("done", self._done, self.plan.total_steps)

    def _metadata(self, model: str, what: str, call: Callable[[], T]) -> T:
        """One metadata call for ``model``; a cancel stops the bench, running out of total_timeout says so."""
        try:
            return call()
        except RequestCancelled:
            raise BenchCancelled from None
        except ServerTimeout as error:
            if time.monotonic() >= self._total_deadline:
                total = self.plan.total_timeout
                raise ServerTimeout(f"{model} {what}: the bench exceeded total_timeout ({total:g}s)") from None
            raise ServerTimeout(f"{model} {what}: {error}") from None

    def _bench_model(self, record: ModelRecord) -> Iterator[Event]:
        prompts = PromptMaker(self.plan.prompts, self.plan.seed, record.name)
        first_pp = next((test for test in self.plan.tests if test.prompt_tokens > 0), None)
        warmup_prompt = prompts.warmup(first_pp.prompt_tokens if first_pp else 0)
        yield self._progress(f"{record.name} warm-up")
        # with --parallel N, N streams warm up together, so every request goes N at a time
        others = [prompts.warmup(first_pp.prompt_tokens if first_pp else 0) for _ in range(self.plan.parallel - 1)]
        calls = [self._warmup_call(record, prompt) for prompt in [warmup_prompt, *others]]
        warmup, *_ = concurrently(calls, self.cancel)
        if warmup.done_reason != NO_DONE:
            prompts.calibrate(warmup_prompt, warmup.prompt_eval_count)
        record.cold_load_s = None if record.was_loaded else warmup.load_s
        for test in self.plan.tests:
            for index in range(self.plan.runs):
                label = f"{record.name} {test.name} run {index + 1}/{self.plan.runs}"
                yield self._progress(label)
                if self.plan.parallel > 1:
                    self._round(record, test, index, prompts)
                else:
                    yield from self._run(record, test, index, prompts, label)

    def _warmup_call(self, record: ModelRecord, prompt: str) -> Callable[[], RunSample]:
        return functools.partial(self._measure, record, prompt, WARMUP_PREDICT, "warm-up", self.plan.load_timeout)

    def _round(self, record: ModelRecord, test: Workload, index: int, prompts: PromptMaker) -> None:
        """One timed run of ``parallel`` concurrent streams, each with its own prompt. A short stream
        is not retried (alone, it would not be concurrent): it is reported and left out."""
        what = f"{test.name} run {index + 1}"
        shapes = [self._shape(test, index, prompts) for _ in range(self.plan.parallel)]
        started = self.clock()
        calls = [functools.partial(self._stream, record, test, *shape, what) for shape in shapes]
        streams = concurrently(calls, self.cancel)
        record.rounds.setdefault(test.name, []).append(Round(tuple(streams), self.clock() - started))
        for sample in streams:
            if sample.stopped_short:
                record.short.setdefault(test.name, []).append(sample)
                record.excluded[test.name] = record.excluded.get(test.name, 0) + 1
            else:
                record.samples.setdefault(test.name, []).append(sample)
        record.samples.setdefault(test.name, [])

    def _run(
        self, record: ModelRecord, test: Workload, index: int, prompts: PromptMaker, label: str
    ) -> Iterator[Event]:
        """One timed run; a short one is retried with a fresh prompt, and left out if it stays short."""
        for attempt in range(MAX_RETRIES + 1):
            if attempt:
                yield self._progress(f"{label} (short, retry {attempt}/{MAX_RETRIES})", counts=False)
            what = f"{test.name} run {index + 1}"
            sample = self._stream(record, test, *self._shape(test, index, prompts), what)
            if not sample.stopped_short:
                record.samples.setdefault(test.name, []).append(sample)
                return
            record.short.setdefault(test.name, []).append(sample)
        record.samples.setdefault(test.name, [])
        record.excluded[test.name] = record.excluded.get(test.name, 0) + 1

    def _shape(self, test: Workload, index: int, prompts: PromptMaker) -> tuple[str, str | None]:
        """The next measured prompt, and the context a ``@dN`` test processes before it (else None)."""
        prompt = prompts.build(test, index)
        return prompt, (prompts.depth_context(test.depth, index) if test.depth > 0 else None)

    def _stream(self, record: ModelRecord, test: Workload, prompt: str, context: str | None, what: str) -> RunSample:
        """One timed request; at depth, after its context was processed untimed.

        llama-bench processes ``n_depth`` tokens before each repetition's timed region (from a
        saved state when it has one: tools/llama-bench/llama-bench.cpp, ``if (t.n_depth > 0)``
        before ``test_prompt``/``test_gen``). Through ollama the same happens with the prompt
        cache: the context is sent alone first, then context + prompt, whose context prefix the
        runner reuses, so ``prompt_eval_duration`` covers the prompt only."""
        if context is None:
            return self._measure(record, prompt, test.predict, what, self.plan.run_timeout)
        primed = self._measure(record, context, 1, f"{what} depth", self.plan.run_timeout)
        # v0.30+ counts the reused prefix in prompt_eval_count: all the context's tokens, which
        # its own prompt_eval_count (BOS cached + the rest evaluated) is
        cached = primed.prompt_eval_count if counts_cached_tokens(self.plan.server_version) else 0
        return self._measure(record, f"{context} {prompt}", test.predict, what, self.plan.run_timeout, cached=cached)

    def _progress(self, label: str, *, counts: bool = True) -> Progress:
        if self.cancel.is_set():
            raise BenchCancelled
        progress = Progress(label, self._done, self.plan.total_steps)
        self._done += counts
        return progress

    def _measure(
        self, record: ModelRecord, prompt: str, predict: int, what: str, allowed: float, *, cached: int | None = None
    ) -> RunSample:
        """One request, resent after a backoff while the server says it is busy."""
        for backoff in (*BUSY_BACKOFF_S, None):
            try:
                return self._once(record, prompt, predict, what, allowed, cached=cached)
            except ServerError as error:
                if error.status != HTTP_BUSY or backoff is None or self._no_time_for(backoff):
                    error.args = (f"{record.name} {what}: {error}",)
                    raise
                record.busy_retries += 1
                if self.cancel.wait(backoff):
                    raise BenchCancelled from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _no_time_for(self, backoff: float) -> bool:
        return time.monotonic() + backoff >= self._total_deadline

    def _once(
        self, record: ModelRecord, prompt: str, predict: int, what: str, allowed: float, *, cached: int | None
    ) -> RunSample:
        run_deadline = time.monotonic() + allowed
        deadline = min(run_deadline, self._total_deadline)
        started = self.clock()
        first_token: float | None = None
        tokens = 0
        body = self.plan.request(record.name, prompt, predict, record.setup)
        try:
            for chunk in self.client.generate_request(body, deadline=deadline):
                if self.cancel.is_set():
                    raise BenchCancelled
                if first_token is None and (chunk.get("response") or chunk.get("thinking") or chunk.get("done")):
                    first_token = self.clock() - started
                if chunk.get("done") is True:
                    elapsed = self.clock() - started
                    ttft = first_token if first_token is not None else elapsed
                    return RunSample.from_final(
                        chunk, ttft, elapsed, predict, assumed_cached=self._cached(record) if cached is None else cached
                    )
                tokens += 1
        except StreamEndedEarly:
            elapsed = self.clock() - started
            return RunSample.truncated(tokens, first_token if first_token is not None else elapsed, elapsed, predict)
        except RequestCancelled:
            raise BenchCancelled from None
        except ServerTimeout:
            raise ServerTimeout(self._timeout_message(record.name, what, run_deadline, allowed)) from None
        except ServerError:
            raise
        except OllamaError as error:
            error.args = (f"{record.name} {what}: {error}",)
            raise
        raise AssertionError("unreachable: generate_request ends with the done chunk or raises")

    def _cached(self, record: ModelRecord) -> int:
        """Tokens prompt_eval_count counts but the server did not evaluate, when it does not say:
        v0.30+ counts the cached prefix, which for a bench prompt is its BOS token."""
        return 1 if counts_cached_tokens(self.plan.server_version) and record.adds_bos else 0

    def _timeout_message(self, model: str, what: str, run_deadline: float, allowed: float) -> str:
        if run_deadline <= self._total_deadline:
            setting = "load_timeout" if what == "warm-up" else "run_timeout"
            return f"{model} {what}: no answer within {setting} ({allowed:g}s)"
        return f"{model} {what}: the bench exceeded total_timeout ({self.plan.total_timeout:g}s)"


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    return value if isinstance(value, dict) else {}
