"""``--parallel N``: N concurrent streams of one test, and the aggregate rate they reach together.

Each stream's own rate comes from its counters as usual (per-stream tok/s). The aggregate is the
tokens of all streams over the span in which any of them was working, on the server's clock:
each stream's work ends at its final chunk's ``created_at`` (server/routes.go GenerateHandler
stamps ``time.Now()``) and started ``eval_duration`` (generation) or ``prompt_eval_duration +
eval_duration`` (prompt) before. Streams the server queued (OLLAMA_NUM_PARALLEL=1 serves one at a
time) lie end to end, so their aggregate is about one stream's rate; streams it batched overlap,
and the aggregate approaches N times it. Without timestamps the client's wall clock is used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from rshell.bench.metrics import NS_PER_SECOND, RunSample

T = TypeVar("T")


@dataclass(frozen=True)
class Round:
    """One timed run of N concurrent streams."""

    samples: tuple[RunSample, ...]
    wall_s: float

    def aggregate(self, prompt: bool) -> tuple[float | None, str]:
        """Tokens per second of all streams together, and the clock it was measured on."""
        counted = [sample for sample in self.samples if sample.ended_at is not None]
        tokens = sum(
            sample.evaluated_prompt_tokens if prompt else max(sample.eval_count - 1, 0) for sample in self.samples
        )
        if len(counted) == len(self.samples) and counted:
            starts = [_started(sample, prompt) for sample in counted]
            span = max(sample.ended_at or 0.0 for sample in counted) - min(starts)
            if span > 0:
                return tokens / span, "server"
        return (tokens / self.wall_s if self.wall_s > 0 else None), "client"


def _started(sample: RunSample, prompt: bool) -> float:
    busy = sample.eval_ns + (sample.prompt_eval_ns if prompt else 0)
    return (sample.ended_at or 0.0) - busy / NS_PER_SECOND


def concurrently(calls: Sequence[Callable[[], T]], cancel: threading.Event) -> list[T]:
    """Run every call at once on its own thread; the results in order, or the first error raised.

    One call runs on the caller's thread. On any error (Ctrl-C included) ``cancel`` is set, which
    closes the other streams' connections (OllamaClient), and their threads are not waited for."""
    if len(calls) == 1:
        return [calls[0]()]
    pool = ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="bench-stream")
    try:
        futures = [pool.submit(call) for call in calls]
        results = [future.result() for future in futures]
    except BaseException:
        cancel.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results
