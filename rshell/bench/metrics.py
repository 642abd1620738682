"""What one run measured, and the statistics over runs.

Rates come from the server's own counters, as llama-bench defines them (tokens processed per
second of GPU time), so network time does not count against the GPU; all durations are
nanoseconds (docs/api.md). Two corrections make ollama's counters mean that:

- generation: the runner starts its clock when the first token is sampled
  (runner/llamarunner/runner.go processBatch ``if seq.numDecoded == 1 { seq.startGenerationTime =
  time.Now() }``; llama.cpp tools/server/server.cpp sets t_start_generation at ``n_decoded == 1``,
  which v0.30+ reports as predicted_ms), so ``eval_duration`` covers ``eval_count - 1`` decode
  steps: the rate is ``(eval_count - 1) / eval_duration``;
- prompt: from v0.30 ``prompt_eval_count`` is ``CacheN + PromptN`` (llm/llama_server.go
  ``llamaServerTimings.promptEvalCount``) while ``prompt_eval_duration`` is PromptMS, the evaluated
  tokens' time only. The cached tokens are ``prompt_eval_cached_count`` where the server reports
  it (ollama PR #17943), else the prefix a bench prompt shares with the previous one: its BOS
  token (rshell.bench.prompts makes every prompt differ right after it). Before v0.30 the count
  is already the evaluated tokens (numPromptInputs) and nothing is subtracted.

TTFT and end-to-end are timed on the client, as a user would feel them. Statistics follow
llama-bench: mean ± sample standard deviation over the repetitions, plus median, min and max.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rshell.events import JSONValue

NS_PER_SECOND = 1e9
#: the first release whose prompt_eval_count includes cached tokens (PR #16428, 2026-06-02)
COUNTS_CACHED_FROM = (0, 30)
NO_DONE = "no final chunk"

#: metrics kept per test: key → (label, unit, higher is better)
METRICS: dict[str, tuple[str, str, bool]] = {
    "prompt_tps": ("prompt", "tok/s", True),
    "gen_tps": ("generation", "tok/s", True),
    "ttft_s": ("TTFT", "s", False),
    "e2e_s": ("end-to-end", "s", False),
    "load_s": ("load", "s", False),
}


@dataclass(frozen=True)
class RunSample:
    """One measured run: the server's final counters and the client's clock."""

    prompt_eval_count: int
    cached_tokens: int
    prompt_eval_ns: int
    eval_count: int
    eval_ns: int
    load_ns: int
    total_ns: int
    done_reason: str
    ttft_s: float
    e2e_s: float
    requested_tokens: int
    #: the server's clock when the final chunk was made (its ``created_at``), epoch seconds
    ended_at: float | None = None

    @classmethod
    def from_final(
        cls, final: Mapping[str, Any], ttft_s: float, e2e_s: float, requested: int, *, assumed_cached: int = 0
    ) -> RunSample:
        """Build from the stream's ``done`` chunk; missing counters (e.g. a fully cached prompt) are 0.

        ``assumed_cached``: the tokens counted in prompt_eval_count but not evaluated, when the
        server does not report ``prompt_eval_cached_count`` (see the module docstring)."""
        reported = final.get("prompt_eval_cached_count")
        return cls(
            prompt_eval_count=_count(final, "prompt_eval_count"),
            cached_tokens=_count(final, "prompt_eval_cached_count") if reported is not None else assumed_cached,
            prompt_eval_ns=_count(final, "prompt_eval_duration"),
            eval_count=_count(final, "eval_count"),
            eval_ns=_count(final, "eval_duration"),
            load_ns=_count(final, "load_duration"),
            total_ns=_count(final, "total_duration"),
            done_reason=str(final.get("done_reason") or "unknown"),
            ttft_s=ttft_s,
            e2e_s=e2e_s,
            requested_tokens=requested,
            ended_at=_timestamp(final.get("created_at")),
        )

    @classmethod
    def truncated(cls, tokens: int, ttft_s: float, e2e_s: float, requested: int) -> RunSample:
        """A stream that ended without its final chunk: ``tokens`` arrived, no counters."""
        return cls(0, 0, 0, tokens, 0, 0, 0, NO_DONE, ttft_s, e2e_s, requested)

    @property
    def evaluated_prompt_tokens(self) -> int:
        return max(self.prompt_eval_count - self.cached_tokens, 0)

    @property
    def prompt_tps(self) -> float | None:
        return _rate(self.evaluated_prompt_tokens, self.prompt_eval_ns)

    @property
    def gen_tps(self) -> float | None:
        """Decode steps per second: the first of ``eval_count`` tokens is not timed."""
        return _rate(self.eval_count - 1, self.eval_ns)

    @property
    def load_s(self) -> float:
        return self.load_ns / NS_PER_SECOND

    @property
    def stopped_short(self) -> bool:
        """Fewer tokens than asked for: the model stopped (end of sequence, stop word, ollama's
        repeat limit) or the stream ended without its final chunk."""
        return self.done_reason == NO_DONE or (self.done_reason != "length" and self.eval_count < self.requested_tokens)

    def value(self, metric: str) -> float | None:
        values: dict[str, float | None] = {
            "prompt_tps": self.prompt_tps,
            "gen_tps": self.gen_tps,
            "ttft_s": self.ttft_s,
            "e2e_s": self.e2e_s,
            "load_s": self.load_s,
        }
        return values[metric]

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "prompt_tokens": self.prompt_eval_count,
            "cached_tokens": self.cached_tokens,
            "evaluated_prompt_tokens": self.evaluated_prompt_tokens,
            "generated_tokens": self.eval_count,
            "done_reason": self.done_reason,
            "stopped_short": self.stopped_short,
            **{metric: self.value(metric) for metric in METRICS},
        }


@dataclass(frozen=True)
class Stats:
    """Summary of one metric over the runs."""

    n: int
    mean: float
    stdev: float
    median: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats | None:
        if not values:
            return None
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(len(values), statistics.fmean(values), spread, statistics.median(values), min(values), max(values))

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "n": self.n,
            "mean": self.mean,
            "stdev": self.stdev,
            "median": self.median,
            "min": self.minimum,
            "max": self.maximum,
        }


def summarize(samples: Sequence[RunSample], metric: str) -> Stats | None:
    """Statistics of one metric over the runs that report it."""
    values = [value for value in (sample.value(metric) for sample in samples) if value is not None]
    return Stats.of(values)


def _timestamp(value: object) -> float | None:
    """RFC 3339 (Go's RFC3339Nano: Python keeps microseconds) as epoch seconds; None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _rate(tokens: int, nanoseconds: int) -> float | None:
    if tokens <= 0 or nanoseconds <= 0:
        return None
    return tokens / (nanoseconds / NS_PER_SECOND)


def _count(final: Mapping[str, Any], key: str) -> int:
    value = final.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def counts_cached_tokens(version: str) -> bool | None:
    """Whether this ollama version's prompt_eval_count includes cached tokens; None: unknown."""
    try:
        numbers = tuple(int(part) for part in version.lstrip("v").split("-")[0].split(".")[:2])
    except ValueError:
        return None
    return numbers >= COUNTS_CACHED_FROM if len(numbers) == 2 else None
