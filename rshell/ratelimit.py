"""Rate limits kept on disk under a lock, so separate ssh invocations share them; state fails closed."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

from rshell.errors import Denied
from rshell.policy.model import RateLimit
from rshell.statefile import exclusive_lock, replace_atomically
from rshell.units import MAX_DURATION_SECONDS, format_duration

#: the fix an administrator needs when the state cannot be trusted (deleting it resets every limit)
RESET_HINT = "fix or remove it to reset every limit"


class RateLimiter:
    """Counts actions per (verb, key) in a sliding window: one JSON file replaced atomically
    (temp file, fsync, rename) under an flock on a separate lock file. State that cannot be read
    or parsed denies every limited action; it is never silently reset."""

    def __init__(self, state_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = state_dir / "ratelimit.json"
        self.lock_path = state_dir / "ratelimit.lock"
        self._clock = clock

    def acquire(self, verb: str, key: str, limit: RateLimit, *, shown: str | None = None) -> None:
        """Record one action now, or raise Denied when the window is full or the state is unreadable.

        ``key`` is what the budget belongs to (a container ID, a bench target, ``*``); ``shown`` is
        how the denial names it (a container's name; empty for the verb as a whole)."""
        entry = f"{verb}:{key}"
        with exclusive_lock(self.lock_path, "rate-limit state"):
            state = self._read()
            now = float(self._clock())
            recent = [stamp for stamp in state.get(entry, []) if now - stamp < limit.per_seconds]
            if len(recent) >= limit.count:
                wait = limit.per_seconds - (now - min(recent)) if recent else limit.per_seconds
                what = f"{verb} {shown if shown is not None else key}".strip()
                raise Denied(
                    f"rate limit: {what} is allowed {limit.count} times per "
                    f"{format_duration(limit.per_seconds)}; try again in {format_duration(max(wait, 1))}"
                )
            state = _pruned(state, now)
            state[entry] = [*recent, now]
            self._write(state)

    def _read(self) -> dict[str, list[float]]:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise Denied(f"the rate-limit state {self.path} is unreadable ({error.strerror}); {RESET_HINT}") from None
        state = parse_state(data)
        if state is None:
            raise Denied(f"the rate-limit state {self.path} is corrupt; {RESET_HINT}")
        return state

    def _write(self, state: dict[str, list[float]]) -> None:
        replace_atomically(self.path, json.dumps(state, allow_nan=False).encode("ascii"), "rate-limit state")


def parse_state(data: bytes) -> dict[str, list[float]] | None:
    """The state file's entries, or None when any part of it is not what this module writes."""
    try:
        raw = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except ValueError:  # also UnicodeDecodeError, and NaN / Infinity
        return None
    if not isinstance(raw, dict):
        return None
    state: dict[str, list[float]] = {}
    for key, stamps in raw.items():
        if not isinstance(stamps, list) or not all(_is_stamp(stamp) for stamp in stamps):
            return None
        state[key] = [float(stamp) for stamp in stamps]
    return state


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a time")


def _is_stamp(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _pruned(state: dict[str, list[float]], now: float) -> dict[str, list[float]]:
    """Drop stamps older than the longest possible window, so the file stays small."""
    kept = {key: [stamp for stamp in stamps if now - stamp < MAX_DURATION_SECONDS] for key, stamps in state.items()}
    return {key: stamps for key, stamps in kept.items() if stamps}
