"""Run a bench plan against one ollama server, keeping every sample as it arrives.

The runner is the only place that sends /api/generate. What it measured lives on the runner
(``models``), so when a run fails, times out or is interrupted the caller still has the partial
results to report and store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rshell.bench.method import WARMUP_PREDICT, BenchPlan, PromptMaker, Workload, generation_options
from rshell.bench.metrics import RunSample
from rshell.events import Event, Progress
from rshell.ollama import OllamaClient, OllamaError, ServerTimeout


class BenchCancelled(Exception):
    """The cancel signal was set while a bench was running."""


@dataclass
class ModelRecord:
    """What is known about one model so far: details from the server and the samples per test."""

    name: str
    details: dict[str, Any] = field(default_factory=dict)
    was_loaded: bool = False
    cold_load_s: float | None = None
    running: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[RunSample]] = field(default_factory=dict)


class BenchRunner:
    """Executes warm-up and timed runs, one model at a time, yielding Progress events."""

    def __init__(
        self, client: OllamaClient, plan: BenchPlan, cancel: threading.Event, clock: Callable[[], float]
    ) -> None:
        self.client, self.plan, self.cancel, self.clock = client, plan, cancel, clock
        self.models: list[ModelRecord] = []
        self._done = 0
        self._total_deadline = time.monotonic() + plan.total_timeout

    def run(self) -> Iterator[Event]:
        for model in self.plan.models:
            record = ModelRecord(model, details=_details(self.client.show(model)))
            record.was_loaded = any(entry.get("name") == model for entry in self.client.running())
            self.models.append(record)
            yield from self._bench_model(record)
            record.running = next((entry for entry in self.client.running() if entry.get("name") == model), {})
        yield Progress("done", self._done, self.plan.total_steps)

    def _bench_model(self, record: ModelRecord) -> Iterator[Event]:
        prompts = PromptMaker(self.plan.prompts)
        first_pp = next((test for test in self.plan.tests if test.prompt_tokens > 0), None)
        warmup_prompt = prompts.warmup(first_pp.prompt_tokens if first_pp else 0)
        yield self._progress(f"{record.name} warm-up")
        warmup = self._measure(record.name, warmup_prompt, WARMUP_PREDICT, "warm-up")
        prompts.calibrate(warmup_prompt, warmup.prompt_eval_count)
        record.cold_load_s = None if record.was_loaded else warmup.load_s
        for test in self.plan.tests:
            samples = record.samples.setdefault(test.name, [])
            for index in range(self.plan.runs):
                yield self._progress(f"{record.name} {test.name} run {index + 1}/{self.plan.runs}")
                samples.append(self._run(record.name, test, prompts.build(test, index), index))

    def _progress(self, label: str) -> Progress:
        if self.cancel.is_set():
            raise BenchCancelled
        progress = Progress(label, self._done, self.plan.total_steps)
        self._done += 1
        return progress

    def _run(self, model: str, test: Workload, prompt: str, index: int) -> RunSample:
        return self._measure(model, prompt, test.predict, f"{test.name} run {index + 1}")

    def _measure(self, model: str, prompt: str, predict: int, what: str) -> RunSample:
        run_deadline = time.monotonic() + self.plan.run_timeout
        deadline = min(run_deadline, self._total_deadline)
        started = self.clock()
        first_token: float | None = None
        final: dict[str, Any] | None = None
        try:
            for chunk in self.client.generate_stream(model, prompt, generation_options(predict), deadline=deadline):
                if self.cancel.is_set():
                    raise BenchCancelled
                if first_token is None and (chunk.get("response") or chunk.get("thinking") or chunk.get("done")):
                    first_token = self.clock() - started
                if chunk.get("done") is True:
                    final = chunk
        except ServerTimeout:
            raise ServerTimeout(self._timeout_message(model, what, run_deadline)) from None
        except OllamaError as error:
            error.args = (f"{model} {what}: {error}",)
            raise
        assert final is not None, "generate_stream ends with the done chunk or raises"
        elapsed = self.clock() - started
        return RunSample.from_final(final, first_token if first_token is not None else elapsed, elapsed, predict)

    def _timeout_message(self, model: str, what: str, run_deadline: float) -> str:
        if run_deadline <= self._total_deadline:
            return f"{model} {what}: no answer within run_timeout ({self.plan.run_timeout:g}s)"
        return f"{model} {what}: the bench exceeded total_timeout ({self.plan.total_timeout:g}s)"


def _details(show: dict[str, Any]) -> dict[str, Any]:
    details = show.get("details")
    return details if isinstance(details, dict) else {}
