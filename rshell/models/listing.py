"""The ``models`` listing: the policy's models on one target, as /api/tags and /api/ps describe them.

Fields follow api.ListModelResponse (name, size, digest, modified_at, details.family,
details.parameter_size, details.quantization_level) and api.ProcessModelResponse (size, size_vram,
context_length, expires_at). A model the server has but the policy does not list is not shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rshell.bench.policy import normalize_model
from rshell.events import Column, JSONValue
from rshell.units import format_bytes

COLUMNS = (
    Column("name", "MODEL"),
    Column("installed", "INSTALLED"),
    Column("size", "SIZE"),
    Column("family", "FAMILY"),
    Column("parameters", "PARAMS"),
    Column("quantization", "QUANT"),
    Column("loaded", "LOADED"),
    Column("placement", "VRAM/CPU"),
    Column("context_length", "CONTEXT"),
    Column("expires_at", "UNTIL"),
)


def model_rows(
    allowed: Sequence[str], tags: Sequence[Mapping[str, Any]], running: Sequence[Mapping[str, Any]]
) -> list[JSONValue]:
    """One row per allowed model: installed and loaded facts, or nulls where the server has none."""
    installed = _by_name(tags)
    loaded = _by_name(running)
    return [_row(name, installed.get(name), loaded.get(name)) for name in allowed]


def _row(name: str, tag: Mapping[str, Any] | None, process: Mapping[str, Any] | None) -> dict[str, JSONValue]:
    details = _map((tag or process or {}).get("details"))
    size, vram = _int((process or {}).get("size")), _int((process or {}).get("size_vram"))
    return {
        "name": name,
        "installed": tag is not None,
        "size_bytes": _int(tag.get("size")) if tag else None,
        "digest": _text(tag.get("digest"))[:12] or None if tag else None,
        "modified_at": _text(tag.get("modified_at")) or None if tag else None,
        "family": _text(details.get("family")) or None,
        "parameter_size": _text(details.get("parameter_size")) or None,
        "quantization": _text(details.get("quantization_level")) or None,
        "loaded": process is not None,
        "size_vram_bytes": vram if process else None,
        "gpu_percent": round(100 * vram / size) if process and size and vram is not None else None,
        "context_length": _int(process.get("context_length")) if process else None,
        "expires_at": _text(process.get("expires_at")) or None if process else None,
    }


def table_row(row: Mapping[str, Any]) -> dict[str, JSONValue]:
    """A row as a human reads it (the JSON document keeps raw numbers)."""
    placement = None
    if row["loaded"] and row["gpu_percent"] is not None:
        placement = f"{row['gpu_percent']}% / {100 - row['gpu_percent']}%"
    return {
        "name": row["name"],
        "installed": row["installed"],
        "size": format_bytes(row["size_bytes"]) if row["size_bytes"] is not None else None,
        "family": row["family"],
        "parameters": row["parameter_size"],
        "quantization": row["quantization"],
        "loaded": row["loaded"],
        "placement": placement,
        "context_length": row["context_length"],
        "expires_at": row["expires_at"],
    }


def _by_name(entries: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        name = entry.get("name") or entry.get("model")
        if isinstance(name, str):
            found.setdefault(normalize_model(name), entry)
    return found


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
