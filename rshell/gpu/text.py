"""A snapshot as a person reads it: one line per GPU, its processes, then what went wrong."""

from __future__ import annotations

from rshell.gpu.model import NOT_AVAILABLE, OK, GpuReading, Snapshot, SourceReport
from rshell.units import format_bytes

NO_GPU = "no GPU found"
MICROWATTS_PER_WATT = 1_000_000
MILLIDEGREES_PER_DEGREE = 1000


def snapshot_lines(snapshot: Snapshot) -> list[str]:
    """The human lines of a snapshot; never empty."""
    gpus = snapshot.gpus
    lines: list[str] = []
    for gpu in gpus:
        lines.append(gpu_line(gpu))
        lines.extend(process_lines(gpu))
    if not gpus:
        lines.append(NO_GPU)
    for source in snapshot.sources:
        lines.extend(source_lines(source, show_absent=not gpus))
    return lines


def gpu_line(gpu: GpuReading) -> str:
    parts = [gpu.device, gpu.name, gpu.pci_slot or "-", gpu.pci_id or "-", _memory(gpu)]
    if gpu.busy_percent is not None:
        parts.append(f"busy {gpu.busy_percent}%")
    if gpu.temperatures:
        parts.append(" ".join(f"{t.label} {t.millidegrees_c / MILLIDEGREES_PER_DEGREE:.0f}C" for t in gpu.temperatures))
    if gpu.power_uw is not None:
        parts.append(f"{gpu.power_uw / MICROWATTS_PER_WATT:.1f} W")
    return "  ".join(parts)


def process_lines(gpu: GpuReading) -> list[str]:
    return [f"  pid {process.pid}  {_size(process.vram_used_bytes)}" for process in gpu.processes]


def source_lines(source: SourceReport, *, show_absent: bool) -> list[str]:
    """Why a source is absent or failed, and each per-file problem."""
    lines: list[str] = []
    if source.status != OK and (show_absent or source.status != NOT_AVAILABLE):
        lines.append(f"{source.source}: {source.status}: {source.message}")
    lines.extend(f"{source.source}: problem: {problem}" for problem in source.problems)
    return lines


def _memory(gpu: GpuReading) -> str:
    label = "VRAM+GTT" if gpu.integrated and gpu.memory_total_bytes != gpu.vram_total_bytes else "VRAM"
    used, total = gpu.memory_used_bytes, gpu.memory_total_bytes
    text = f"{label} {_size(used)} / {_size(total)}"
    if used is not None and total:
        text += f" ({100 * used / total:.0f}%)"
    return text


def _size(count: int | None) -> str:
    return "?" if count is None else format_bytes(count)
