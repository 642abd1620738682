"""Peak VRAM of the benchmarked model itself, not of the device.

Two ways, best first, and the result says which (``vram_source``):

- ``runner processes``: the GPU memory of ollama's own processes (comm ``ollama``, or the older
  runner binary ``ollama_llama_server``, which comm truncates to 15 characters), from the
  drivers' per-process figures: KFD's ``/sys/class/kfd/kfd/proc/<pid>/vram_<gpu_id>``
  (rshell/gpu/kfd.py) or NVML's per-process used memory (rshell/gpu/nvml.py). Other tenants'
  processes and an APU's GTT do not count.
- ``delta over baseline``: where no runner process is visible with a figure (another PID
  namespace, a driver without per-process accounting), the rise of memory in use over the
  sample taken just before the model's warm-up, summed over the GPUs whose use rose (the GPUs the
  model uses). Another tenant's allocation in the meantime would count too: the source says so.

Each model (each row of a parameter matrix) is sampled just before its warm-up and right after
its last run, while it is still loaded, besides the background samples.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rshell.gpu.model import Snapshot

RUNNER_NAMES = ("ollama", "ollama_llama_se", "ollama_llama_server")
BY_PROCESS = "runner processes"
BY_DELTA = "delta over baseline"


@dataclass
class ModelPeak:
    """What one model was seen to hold at most, and how that was measured."""

    peak_bytes: int | None = None
    source: str | None = None
    baseline_bytes: int | None = None


@dataclass
class ModelVram:
    """Fed every snapshot (``observe``); ``mark(key)`` starts a model's phase with a baseline sample.

    ``take_sample`` takes a sample now and feeds it to ``observe`` (VramSampler.sample_now); None
    when the reading failed."""

    take_sample: Callable[[], Snapshot | None] = lambda: None
    peaks: dict[str, ModelPeak] = field(default_factory=dict)
    _current: str | None = None
    _baseline: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self, key: str | None) -> None:
        """The model ``key`` starts now (None: none runs); sample at once, as its baseline."""
        snapshot = self._sample()
        with self._lock:
            self._current = key
            if key is not None and snapshot is not None:
                self._baseline = {
                    gpu.device: used for gpu in snapshot.gpus if (used := gpu.memory_used_bytes) is not None
                }
                self.peaks[key] = ModelPeak(baseline_bytes=sum(self._baseline.values()))

    def sample(self) -> None:
        """One sample for the model now running (e.g. after its last run, before it is unloaded)."""
        self._sample()

    def observe(self, snapshot: Snapshot) -> None:
        with self._lock:
            peak = self.peaks.get(self._current) if self._current is not None else None
            if peak is None:
                return
            held, source = self._held(snapshot)
            if held is None:
                return
            if peak.source == BY_PROCESS and source == BY_DELTA:
                return  # a per-process figure, once seen, beats a delta
            if source != peak.source or peak.peak_bytes is None or held > peak.peak_bytes:
                peak.peak_bytes, peak.source = held, source

    def _sample(self) -> Snapshot | None:
        return self.take_sample()

    def _held(self, snapshot: Snapshot) -> tuple[int | None, str]:
        runners = [
            process.vram_used_bytes
            for gpu in snapshot.gpus
            for process in gpu.processes
            if process.name in RUNNER_NAMES and process.vram_used_bytes is not None
        ]
        if runners:
            return sum(runners), BY_PROCESS
        rises = [
            used - self._baseline[gpu.device]
            for gpu in snapshot.gpus
            if (used := gpu.memory_used_bytes) is not None and gpu.device in self._baseline
        ]
        risen = [rise for rise in rises if rise > 0]
        return (sum(risen) if rises else None), BY_DELTA
