"""Peak VRAM and GPU names during a bench, sampled by ``rshell.gpu`` in the background.

The GPU package is imported only when a bench starts (the ``-c`` path stays fast). No GPU, no
driver or unusable ``vram`` settings only mean the result says VRAM was not sampled, and why.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rshell.bench.modelvram import ModelVram
from rshell.events import JSONValue

if TYPE_CHECKING:
    from rshell.gpu.sampler import VramSampler


@dataclass
class VramReading:
    """What was sampled, or why nothing was; filled in when sampling ends."""

    peak_used_bytes: int | None = None
    gpu_names: list[str] = field(default_factory=list)
    problem: str | None = None
    #: the models' own VRAM (None: not sampled); the runner marks each model's start
    model: ModelVram | None = None

    def mark(self, key: str | None) -> None:
        if self.model is not None:
            self.model.mark(key)

    def sample(self) -> None:
        if self.model is not None:
            self.model.sample()


def model_vram(reading: VramReading, key: str) -> dict[str, JSONValue]:
    """A model's own peak VRAM for its JSON entry, and how it was measured (rshell/bench/modelvram.py)."""
    peak = reading.model.peaks.get(key) if reading.model is not None else None
    if peak is None or peak.peak_bytes is None:
        return {"peak_vram_bytes": None, "vram_source": None}
    return {"peak_vram_bytes": peak.peak_bytes, "vram_source": peak.source, "vram_baseline_bytes": peak.baseline_bytes}


@contextlib.contextmanager
def sample_vram(vram_settings: Mapping[str, object]) -> Iterator[VramReading]:
    """Sample VRAM for the duration of the block."""
    reading = VramReading()
    try:
        sampler, reading.model = open_sampler(vram_settings)
    except Exception as error:  # any failure to set up sampling only means no VRAM figures
        reading.problem = f"VRAM not sampled: {error or type(error).__name__}"
        yield reading
        return
    try:
        with sampler:
            yield reading
    finally:
        reading.peak_used_bytes = sampler.peak_used_bytes
        reading.gpu_names = sampler.gpu_names
        if sampler.peak_used_bytes is None:
            reading.problem = f"VRAM not sampled: {sampler.last_error or 'no GPU memory figures were readable'}"


def open_sampler(vram_settings: Mapping[str, object]) -> tuple[VramSampler, ModelVram]:
    """A sampler (not yet started) over the GPU sources the ``vram`` settings name, feeding the
    models' own VRAM."""
    from rshell.gpu.config import gpu_config, read_snapshot  # noqa: PLC0415 (only when a bench starts)
    from rshell.gpu.sampler import VramSampler  # noqa: PLC0415

    config = gpu_config(vram_settings)
    model = ModelVram()
    sampler = VramSampler(lambda: read_snapshot(config), observe=model.observe)
    model.take_sample = sampler.sample_now
    return sampler, model
