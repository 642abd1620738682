"""End a followed stream once the policy in force no longer lets its caller have it: a re-check every few seconds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from rshell.policy.view import Decision
from rshell.verb import CancelSignal

#: how often a followed stream asks whether its verb and targets are still allowed (quiet or busy)
RECHECK_SECONDS = 1.5


def stream_stop(cancel: threading.Event) -> CancelSignal:
    """A stop signal for one stream: set by the caller's cancel, or by a watch that finds it denied."""
    stop = CancelSignal()
    if isinstance(cancel, CancelSignal):
        cancel.on_cancel(stop.set)
    elif cancel.is_set():
        stop.set()
    return stop


class StreamWatch:
    """While the block runs, call ``check`` every ``interval`` seconds in a thread; the first denial is
    kept in ``denied`` and sets ``stop`` (which shuts the stream down under its read). A check that
    raises (the engine did not answer) is tried again at the next tick: only the policy ends a stream.
    With no check (nothing to re-decide) the watch does nothing."""

    def __init__(
        self, check: Callable[[], Decision] | None, stop: CancelSignal, interval: float = RECHECK_SECONDS
    ) -> None:
        self.check = check
        self.stop = stop
        self.interval = interval
        self.denied: Decision | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StreamWatch:
        if self.check is not None:
            self._thread = threading.Thread(target=self._watch, name="stream-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5.0)

    def _watch(self) -> None:
        assert self.check is not None
        while not self._done.wait(self.interval) and not self.stop.is_set():
            try:
                decision = self.check()
            except Exception:  # noqa: S112 - an engine hiccup is not a revocation; the stream itself reports a dead engine
                continue
            if not decision.allowed:
                self.denied = decision
                self.stop.set()
                return
