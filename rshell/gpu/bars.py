"""The picture ``vram --watch`` draws on a terminal: one bar per GPU (used/total) and per model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rshell.events import JSONValue
from rshell.gpu.model import Snapshot
from rshell.gpu.ollamaps import human_bytes, processor
from rshell.gpu.text import STATUS_TEXT
from rshell.units import format_bytes

BAR_CELLS = 30


def bar(used: int | None, total: int | None) -> str:
    """``[#########---------------------]``; all ``?`` when a figure is missing."""
    if used is None or not total:
        return "[" + "?" * BAR_CELLS + "]"
    filled = min(BAR_CELLS, max(0, round(BAR_CELLS * used / total)))
    return "[" + "#" * filled + "-" * (BAR_CELLS - filled) + "]"


def frame_lines(snapshot: Snapshot, models: Sequence[JSONValue]) -> list[str]:
    """One line per GPU, then one per loaded model: name, bar, figures."""
    width = max([len(_gpu_label(gpu.device, gpu.name)) for gpu in snapshot.gpus] or [0])
    lines = []
    for gpu in snapshot.gpus:
        used, total = gpu.memory_used_bytes, gpu.memory_total_bytes
        figures = f"{_size(used)} / {_size(total)}"
        if used is not None and total:
            figures += f"  {100 * used / total:.0f}%"
        if gpu.status in STATUS_TEXT:
            figures += f"  {STATUS_TEXT[gpu.status]}"
        lines.append(f"{_gpu_label(gpu.device, gpu.name):<{width}}  {bar(used, total)}  {figures}")
    lines.extend(_model_line(model) for model in models if isinstance(model, Mapping))
    return lines or ["no GPU found"]


def _gpu_label(device: str, name: str) -> str:
    return f"{device} {name}"


def _model_line(model: Mapping[str, JSONValue]) -> str:
    size, vram = model.get("size_bytes"), model.get("size_vram_bytes")
    size = size if isinstance(size, int) else None
    vram = vram if isinstance(vram, int) else None
    shown = f"{human_bytes(vram) if vram is not None else '?'} of {human_bytes(size) if size is not None else '?'}"
    name = f"{model.get('model')} on {model.get('target')}"
    return f"model {name}  {bar(vram, size)}  {shown} in VRAM  {processor(size, vram)}"


def _size(count: int | None) -> str:
    return "?" if count is None else format_bytes(count)
