"""Peak VRAM and GPU names during a bench, sampled by ``rshell.gpu`` in the background.

The GPU package is imported only when a bench starts (the ``-c`` path stays fast). No GPU, no
driver or unusable ``vram`` settings only mean the result says VRAM was not sampled, and why.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rshell.gpu.sampler import VramSampler


@dataclass
class VramReading:
    """What was sampled, or why nothing was; filled in when sampling ends."""

    peak_used_bytes: int | None = None
    gpu_names: list[str] = field(default_factory=list)
    problem: str | None = None


@contextlib.contextmanager
def sample_vram(vram_settings: Mapping[str, object]) -> Iterator[VramReading]:
    """Sample VRAM for the duration of the block."""
    reading = VramReading()
    try:
        sampler = open_sampler(vram_settings)
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


def open_sampler(vram_settings: Mapping[str, object]) -> VramSampler:
    """A sampler (not yet started) over the GPU sources the ``vram`` settings name."""
    from rshell.gpu.config import gpu_config, read_snapshot  # noqa: PLC0415 (only when a bench starts)
    from rshell.gpu.sampler import VramSampler  # noqa: PLC0415

    config = gpu_config(vram_settings)
    return VramSampler(lambda: read_snapshot(config))
