"""Durations and sizes with units, shared by argument binding and the policy loader."""

from __future__ import annotations

import re

#: digits are ASCII only: ``\d`` and ``str.isdigit`` also accept other scripts' digits ("١٢")
_DURATION = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|m|h|d)")
_DURATION_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"(?P<number>[0-9]+)(?P<unit>B|KiB|MiB|GiB|TiB|kB|MB|GB|TB)")
_SIZE_BYTES = {
    "B": 1,
    "KiB": 1 << 10,
    "MiB": 1 << 20,
    "GiB": 1 << 30,
    "TiB": 1 << 40,
    "kB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
}
MAX_DURATION_SECONDS = 366 * 86400.0


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``30s``, ``10m``, ``1h30m`` or ``500ms``.

    A unit is required: a bare number is ambiguous and refused.
    """
    position, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != position:
            break
        total += float(match["number"]) * _DURATION_SECONDS[match["unit"]]
        position = match.end()
    if position == 0 or position != len(text):
        raise ValueError(f"{text!r} is not a duration (use a number with a unit: 500ms, 30s, 10m, 2h, 1d)")
    if total > MAX_DURATION_SECONDS:
        raise ValueError(f"{text!r} is longer than a year")
    return total


def parse_size(text: str) -> int:
    """Bytes in a size such as ``512MiB`` or ``2GB``; a unit is required."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size (use a number with a unit: 512MiB, 2GiB, 100MB)")
    return int(match["number"]) * _SIZE_BYTES[match["unit"]]


def format_duration(seconds: float) -> str:
    """A short human duration: ``45s``, ``12m``, ``3h 5m``, ``2d 4h``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        hours, minutes = divmod(whole // 60, 60)
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(whole // 3600, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def format_bytes(count: int) -> str:
    """Binary units with one decimal: ``1.5 GiB``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
