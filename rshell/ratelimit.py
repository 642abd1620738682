"""Rate limits kept on disk under a lock, so separate ssh invocations share them."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from rshell.errors import Denied, VerbFailed
from rshell.policy.model import RateLimit
from rshell.units import format_duration


class RateLimiter:
    """Counts actions per (verb, target) in a sliding window; one JSON file, guarded by flock."""

    def __init__(self, state_dir: Path, clock: object = time.time) -> None:
        self.path = state_dir / "ratelimit.json"
        self._clock = clock if callable(clock) else time.time

    def acquire(self, verb: str, target: str, limit: RateLimit) -> None:
        """Record one action now, or raise Denied when the window is full."""
        key = f"{verb}:{target}"
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise VerbFailed(f"cannot open the rate-limit state {self.path}: {error.strerror}") from None
        with os.fdopen(fd, "r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            state = _read_state(handle.read())
            now = float(self._clock())
            recent = [stamp for stamp in state.get(key, []) if now - stamp < limit.per_seconds]
            if len(recent) >= limit.count:
                wait = limit.per_seconds - (now - min(recent)) if recent else limit.per_seconds
                raise Denied(
                    f"rate limit: {verb} {target} is allowed {limit.count} times per "
                    f"{format_duration(limit.per_seconds)}; try again in {format_duration(max(wait, 1))}"
                )
            state[key] = [*recent, now]
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(state))
            handle.flush()
            os.fsync(handle.fileno())


def _read_state(text: str) -> dict[str, list[float]]:
    try:
        raw = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    return {
        str(key): [float(stamp) for stamp in value if isinstance(stamp, (int, float))]
        for key, value in raw.items()
        if isinstance(value, list)
    }
