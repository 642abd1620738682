"""Sample GPU memory in the background while something runs, and keep the peak."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from rshell.gpu.model import Snapshot

DEFAULT_INTERVAL_SECONDS = 0.5
#: how long leaving the ``with`` block waits for a sample in progress
JOIN_TIMEOUT_SECONDS = 10.0


class VramSampler:
    """``with VramSampler(read) as sampler: ...`` samples ``read()`` every ``interval`` seconds.

    The first sample is taken as the block starts and leaving the block waits for the sample in
    progress, so even a short block has one. ``peak_used_bytes`` is the highest GPU memory in use
    seen in any sample, summed over GPUs (VRAM, plus GTT on integrated GPUs); None if no sample
    had a figure.
    """

    def __init__(
        self,
        read: Callable[[], Snapshot],
        interval: float = DEFAULT_INTERVAL_SECONDS,
        *,
        observe: Callable[[Snapshot], None] | None = None,
    ) -> None:
        """``observe`` sees every snapshot read (bench: the model's own VRAM, rshell/bench/modelvram.py)."""
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._read, self._observe = read, observe
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="vram-sampler", daemon=True)
        self._peak: int | None = None
        self._names: list[str] = []
        self._samples = 0
        self._last_error: str | None = None

    def __enter__(self) -> VramSampler:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(JOIN_TIMEOUT_SECONDS)

    @property
    def peak_used_bytes(self) -> int | None:
        with self._lock:
            return self._peak

    @property
    def gpu_names(self) -> list[str]:
        """Names of the GPUs seen, in the order first seen."""
        with self._lock:
            return list(self._names)

    @property
    def samples(self) -> int:
        with self._lock:
            return self._samples

    @property
    def last_error(self) -> str | None:
        """Why the last failed sample failed, if one did."""
        with self._lock:
            return self._last_error

    def _run(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(self._interval):
                return

    def sample_now(self) -> Snapshot | None:
        """Take one sample now, on the caller's thread (a bench marks each model's start and end)."""
        return self._sample()

    def _sample(self) -> Snapshot | None:
        try:
            snapshot = self._read()
        except Exception as error:  # a sampler thread must not die silently
            with self._lock:
                self._last_error = str(error) or type(error).__name__
            return None
        if self._observe is not None:
            self._observe(snapshot)
        used = snapshot.memory_used_bytes
        with self._lock:
            self._samples += 1
            if used is not None and (self._peak is None or used > self._peak):
                self._peak = used
            for gpu in snapshot.gpus:
                if gpu.name not in self._names:
                    self._names.append(gpu.name)
        return snapshot
