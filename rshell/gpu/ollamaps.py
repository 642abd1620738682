"""A loaded model as ``ollama ps`` shows it: size, the CPU/GPU split, context and UNTIL, same rules.

From ollama's cmd/cmd.go ListRunningHandler: PROCESSOR is "100% CPU" when size_vram is 0,
"100% GPU" when it equals size, "Unknown" when size_vram exceeds size or size is 0, else
"C%/G% CPU/GPU" with C = math.Round(100 * (size - size_vram) / size) and G = 100 - C. UNTIL is
"Stopping..." once expires_at has passed, else format.HumanTime(expires_at, "Never"). SIZE is
format.HumanBytes (powers of 1000; whole above 10 units, one decimal below unless whole).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

from rshell.events import JSONValue

_UNITS = ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "KB"))
_SECONDS_PER_HOUR = 3600


def processor(size: int | None, size_vram: int | None) -> str:
    if size is None or size_vram is None:
        return "Unknown"
    if size_vram == 0:
        return "100% CPU"
    if size_vram == size:
        return "100% GPU"
    if size_vram > size or size == 0:
        return "Unknown"
    cpu = _go_round(100 * (size - size_vram) / size)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def until(expires_at: str | None, now: datetime) -> str:
    """UNTIL: "Stopping..." past expiry, "Never" for Go's zero time or none, else "4 minutes from now"."""
    moment = _parse(expires_at)
    if moment is None or moment.year == 1:  # time.Time{} is 0001-01-01T00:00:00Z
        return "Never"
    delta = (now - moment).total_seconds()
    if delta > 0:
        return "Stopping..."
    return f"{human_duration(-delta)} from now"


def human_bytes(count: int) -> str:
    for factor, unit in _UNITS:
        if count >= factor:
            value = count / factor
            if value >= 10 or value == math.trunc(value):
                return f"{int(value)} {unit}"
            return f"{value:.1f} {unit}"
    return f"{count} B"


def human_duration(seconds: float) -> str:
    """ollama's format.HumanDuration: the first rule that applies."""
    whole, minutes, hours = int(seconds), int(seconds / 60), _go_round(seconds / _SECONDS_PER_HOUR)
    rules = (
        (whole < 1, "Less than a second"),
        (whole == 1, "1 second"),
        (whole < 60, f"{whole} seconds"),
        (minutes == 1, "About a minute"),
        (minutes < 60, f"{minutes} minutes"),
        (hours == 1, "About an hour"),
        (hours < 48, f"{hours} hours"),
        (hours < 24 * 14, f"{hours // 24} days"),
        (hours < 24 * 60, f"{hours // (24 * 7)} weeks"),
        (hours < 24 * 365 * 2, f"{hours // (24 * 30)} months"),
    )
    years = int(seconds / _SECONDS_PER_HOUR) // 24 // 365
    return next((text for applies, text in rules if applies), f"{years} years")


def model_line(model: Mapping[str, JSONValue], now: datetime) -> str:
    """``model NAME on TARGET: SIZE  PROCESSOR  context N  UNTIL`` (ollama ps's columns, in a line)."""
    size, vram = model.get("size_bytes"), model.get("size_vram_bytes")
    size = size if isinstance(size, int) else None
    vram = vram if isinstance(vram, int) else None
    expires = model.get("expires_at")
    parts = [
        f"model {model.get('model')} on {model.get('target')}: {human_bytes(size) if size is not None else '?'}",
        processor(size, vram),
    ]
    if model.get("context_length"):
        parts.append(f"context {model['context_length']}")
    parts.append(until(expires if isinstance(expires, str) else None, now))
    return "  ".join(parts)


def _go_round(value: float) -> int:
    """Go's math.Round: halves away from zero (Python's round() goes to even)."""
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(_trim_fraction(text.replace("Z", "+00:00")))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _trim_fraction(text: str) -> str:
    """Go writes up to 9 fractional digits; datetime takes at most 6."""
    head, dot, rest = text.partition(".")
    if not dot:
        return text
    digits = len(rest) - len(rest.lstrip("0123456789"))
    return f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
