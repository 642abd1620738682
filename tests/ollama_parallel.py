"""How the test ollama server serves concurrent generations: OLLAMA_NUM_PARALLEL slots on a clock.

Real ollama gives each loaded runner ``OLLAMA_NUM_PARALLEL`` sequence slots; a request beyond them
waits for a free one (runner/llamarunner/runner.go: ``s.seqsSem.Acquire`` before a sequence is
added), so with NUM_PARALLEL=1 concurrent requests are served one after another, each with its
own counters (durations exclude the wait). Sequences sharing the runner are decoded in one batch:
each step costs a little more per extra sequence (``batch_cost``), far less than running them in
turn. Times here are virtual, so results do not depend on this machine's speed: each request is
scheduled on the model's slots, and the final chunk's ``created_at`` is its virtual end (ollama's
GenerateHandler stamps ``CreatedAt: time.Now()`` on the chunk, RFC 3339 with nanoseconds).

``gather`` makes the server wait (bounded) until that many generate requests have arrived before
scheduling them as one group: a bench with --parallel N sends every request N at a time, and the
group's arrival is when the server was last idle.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

GATHER_TIMEOUT_S = 5.0
EPOCH = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass
class Timeline:
    """Virtual time per model: when each of its NUM_PARALLEL slots is free again."""

    num_parallel: int = 1
    gather: int = 1
    slots: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _arrival: float = 0.0
    _barrier: threading.Barrier | None = None

    def __post_init__(self) -> None:
        if self.gather > 1:
            self._barrier = threading.Barrier(self.gather, action=self._group_arrives, timeout=GATHER_TIMEOUT_S)

    def wait_for_group(self) -> None:
        """Block until ``gather`` requests are here (or the bounded wait ends)."""
        if self._barrier is None:
            self._group_arrives()
            return
        try:
            self._barrier.wait()
        except threading.BrokenBarrierError:
            self._barrier.reset()

    def _group_arrives(self) -> None:
        with self.lock:  # the server was idle: the previous group has finished
            self._arrival = max((end for ends in self.slots.values() for end in ends), default=0.0)

    @property
    def sharing(self) -> int:
        """Sequences decoded together when a group runs."""
        return max(1, min(self.gather, self.num_parallel))

    def schedule(self, model: str, seconds: float) -> float:
        """Run ``seconds`` of work on the model's earliest free slot; its virtual end."""
        with self.lock:
            ends = self.slots.setdefault(model, [0.0] * self.num_parallel)
            slot = min(range(len(ends)), key=ends.__getitem__)
            end = max(self._arrival, ends[slot]) + seconds
            ends[slot] = end
            return end


def stamp(virtual_seconds: float) -> str:
    """``created_at`` for a virtual time, as Go's RFC3339Nano (microseconds are what Python keeps)."""
    moment = EPOCH + timedelta(seconds=virtual_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
