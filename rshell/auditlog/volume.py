"""The audit log's volume cap: bytes per uid per window, and the summary of what was left out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: default cap (policy key ``audit.max_bytes``): a record is ~300-600 bytes, so this is ~2,000 calls a
#: minute (30 a second, sustained), which no agent waiting on a model makes, while a flood of refused
#: lines (thousands a second) reaches it within a second; a day at the cap is ~1.4 GiB at most
DEFAULT_MAX_BYTES = 1024 * 1024
#: default window (policy key ``audit.per``)
DEFAULT_PER_SECONDS = 60.0
#: distinct verbs a summary counts by name; the rest are added up as "(other)" per decision and exit code
MAX_SUMMARY_KINDS = 20


@dataclass(frozen=True)
class AuditVolume:
    """At most ``max_bytes`` of records per uid in each window of ``per_seconds``."""

    max_bytes: int = DEFAULT_MAX_BYTES
    per_seconds: float = DEFAULT_PER_SECONDS


@dataclass
class _Window:
    start: float
    uid: object
    user: object
    used: int = 0
    suppressed_bytes: int = 0
    counts: dict[tuple[str, str, int], int] = field(default_factory=dict)

    @property
    def suppressed(self) -> int:
        return sum(self.counts.values())

    def suppress(self, record: Mapping[str, object], size: int) -> None:
        verb, code = record.get("verb"), record.get("exit_code")
        name = str(verb)[:64] if verb is not None else "-"
        kind = (name, str(record.get("decision", "")), code if isinstance(code, int) else -1)
        if kind not in self.counts and len(self.counts) >= MAX_SUMMARY_KINDS:
            kind = ("(other)", *kind[1:])  # distinct verbs cannot grow the summary
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.suppressed_bytes += size


class VolumeWindows:
    """One fixed window per uid: records fit while the window has bytes left; essential ones always do."""

    def __init__(self, volume: AuditVolume, clock: Callable[[], float]) -> None:
        self.volume = volume
        self._clock = clock
        self._windows: dict[object, _Window] = {}

    def admit(self, record: Mapping[str, object], size: int, *, essential: bool) -> bool:
        """Whether this record is written; a record left out is counted for the summary."""
        now, uid = self._clock(), record.get("uid")
        window = self._windows.get(uid)
        if window is None or now - window.start >= self.volume.per_seconds:
            window = self._windows[uid] = _Window(now, uid, record.get("user"))
        if essential or window.used + size <= self.volume.max_bytes:
            window.used += size
            return True
        window.suppress(record, size)
        return False

    def rolled(self) -> list[dict[str, object]]:
        """Summaries of the windows that have ended (their records are never counted twice)."""
        now = self._clock()
        ended = [uid for uid, window in self._windows.items() if now - window.start >= self.volume.per_seconds]
        return [summary for uid in ended if (summary := self._summary(self._windows.pop(uid), now))]

    def drain(self) -> list[dict[str, object]]:
        """Summaries of every window with suppressed records, ended or not (at exit)."""
        now = self._clock()
        summaries = [summary for window in self._windows.values() if (summary := self._summary(window, now))]
        for window in self._windows.values():
            window.counts, window.suppressed_bytes = {}, 0
        return summaries

    def _summary(self, window: _Window, now: float) -> dict[str, object] | None:
        if not window.counts:
            return None
        count, cap, per = window.suppressed, self.volume.max_bytes, self.volume.per_seconds
        counts = [
            {"verb": verb, "decision": decision, "exit_code": code, "count": number}
            for (verb, decision, code), number in sorted(window.counts.items(), key=lambda item: -item[1])
        ]
        return {
            "uid": window.uid,
            "user": window.user,
            "verb": None,
            "phase": "summary",
            "decision": "suppressed",
            "reason": f"{count} records suppressed: over the audit cap of {cap} bytes per {per:g}s for this user",
            "suppressed": count,
            "suppressed_bytes": window.suppressed_bytes,
            "window_seconds": round(min(now - window.start, per), 3),
            "counts": counts,
        }
