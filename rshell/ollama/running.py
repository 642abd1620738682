"""Which models each policy bench target has loaded, and how much of them sits in VRAM (/api/ps)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from rshell.events import JSONValue
from rshell.ollama.client import OllamaClient, OllamaError, RequestCancelled, clean_text
from rshell.units import format_bytes

#: /api/ps answers from memory; a server slower than this (in total, however it trickles) is
#: reported, not waited for
PS_TIMEOUT_SECONDS = 3.0


def running_models(
    targets: Mapping[str, Any], cancel: threading.Event | None = None
) -> tuple[list[JSONValue], list[JSONValue]]:
    """Models loaded on every target, and one problem line for each target that did not answer.

    Each target gets PS_TIMEOUT_SECONDS; a set ``cancel`` cuts the open request and skips the rest.
    """
    models: list[JSONValue] = []
    problems: list[JSONValue] = []
    for target, settings in sorted(targets.items()):
        url = settings.get("url") if isinstance(settings, Mapping) else None
        if not isinstance(url, str):
            continue
        try:
            entries = OllamaClient(url, timeout=PS_TIMEOUT_SECONDS, cancel=cancel).running()
        except RequestCancelled:
            break
        except OllamaError as error:
            problems.append(f"{target}: {clean_text(str(error))}")
            continue
        models.extend(_model(target, entry) for entry in entries)
    return models, problems


def _model(target: str, entry: Mapping[str, Any]) -> dict[str, JSONValue]:
    size = _integer(entry.get("size"))
    in_vram = _integer(entry.get("size_vram"))
    share = round(100 * in_vram / size) if size and in_vram is not None else None
    return {
        "target": target,
        "model": clean_text(str(entry.get("name") or entry.get("model") or "?")),
        "size_bytes": size,
        "size_vram_bytes": in_vram,
        "size_vram_is_estimate": True,
        "gpu_percent": share,
        "context_length": _integer(entry.get("context_length")),
        "expires_at": clean_text(str(entry["expires_at"])) if entry.get("expires_at") else None,
    }


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def model_lines(models: list[JSONValue], problems: list[JSONValue]) -> list[str]:
    """One line per loaded model (VRAM is ollama's estimate), then what could not be asked."""
    lines = [_model_line(model) for model in models if isinstance(model, Mapping)]
    return lines + [f"models: {problem}" for problem in problems]


def _model_line(model: Mapping[str, JSONValue]) -> str:
    vram, size, share = model.get("size_vram_bytes"), model.get("size_bytes"), model.get("gpu_percent")
    shown = format_bytes(vram) if isinstance(vram, int) else "?"
    total = f" of {format_bytes(size)}" if isinstance(size, int) else ""
    split = f"{share}% GPU / {100 - share}% CPU" if isinstance(share, int) else "split unknown"
    context = f", context {model['context_length']}" if model.get("context_length") else ""
    until = f", loaded until {model['expires_at']}" if model.get("expires_at") else ""
    return f"model {model['model']} on {model['target']}: {shown}{total} in VRAM (estimate; {split}){context}{until}"
