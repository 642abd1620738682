"""VramSampler: the peak of summed GPU memory over background samples."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from rshell.gpu.model import GpuReading, Snapshot, SourceReport
from rshell.gpu.sampler import VramSampler

FAST = 0.005


def snapshot(*used: int | None, names: tuple[str, ...] = ("gpu-a", "gpu-b")) -> Snapshot:
    gpus = tuple(
        GpuReading("amd", name, f"card{index}", vram_used_bytes=value)
        for index, (name, value) in enumerate(zip(names, used, strict=False))
    )
    return Snapshot((SourceReport("amd", "ok", "", gpus),))


def reader(snapshots: list[Snapshot]) -> Callable[[], Snapshot]:
    """Return the snapshots in turn, then the last one forever."""
    remaining: Iterator[Snapshot] = iter(snapshots)

    def read() -> Snapshot:
        return next(remaining, snapshots[-1])

    return read


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "the sampler did not sample"
        time.sleep(FAST)


def test_peak_is_the_highest_sum_over_gpus() -> None:
    samples = [snapshot(100, 10), snapshot(300, 50), snapshot(200, 20)]
    with VramSampler(reader(samples), interval=FAST) as sampler:
        wait_for(lambda: sampler.samples >= 3)

    assert sampler.peak_used_bytes == 350
    assert sampler.gpu_names == ["gpu-a", "gpu-b"]


def test_a_short_block_still_has_one_sample() -> None:
    with VramSampler(reader([snapshot(123)]), interval=60) as sampler:
        pass

    assert (sampler.samples, sampler.peak_used_bytes) == (1, 123)


def test_no_gpu_means_no_peak() -> None:
    with VramSampler(lambda: Snapshot((SourceReport("amd", "not available", "no card"),)), interval=60) as sampler:
        pass

    assert (sampler.peak_used_bytes, sampler.gpu_names) == (None, [])


def test_a_failing_read_is_recorded_and_sampling_goes_on() -> None:
    calls: list[int] = []

    def read() -> Snapshot:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("sysfs vanished")
        return snapshot(500)

    with VramSampler(read, interval=FAST) as sampler:
        wait_for(lambda: sampler.samples >= 1)

    assert (sampler.last_error, sampler.peak_used_bytes) == ("sysfs vanished", 500)


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval must be positive"):
        VramSampler(reader([snapshot(1)]), interval=0)
