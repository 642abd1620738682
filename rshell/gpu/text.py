"""A snapshot as a person reads it: one line per GPU, its processes, then what went wrong."""

from __future__ import annotations

from rshell.gpu.model import DPM_OFF, NOT_AVAILABLE, OK, SUSPENDED, GpuReading, OtherProcesses, Snapshot, SourceReport
from rshell.units import format_bytes

NO_GPU = "no GPU found"
MICROWATTS_PER_WATT = 1_000_000
MILLIDEGREES_PER_DEGREE = 1000
#: what each vendor's own tool calls the core and memory clocks (rocm-smi: SCLK/MCLK)
CLOCK_LABELS = {"amd": ("sclk", "mclk"), "nvidia": ("graphics", "memory")}
STATUS_TEXT = {SUSPENDED: "suspended", DPM_OFF: "sensors off (DPM disabled)"}


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
    name = f"{gpu.name} ({gpu.board_name})" if gpu.board_name else gpu.name
    parts = [gpu.device, name, gpu.pci_slot or "-", gpu.pci_id or "-", _memory(gpu)]
    if gpu.status in STATUS_TEXT:
        parts.append(STATUS_TEXT[gpu.status])
    parts.extend(_load(gpu) + _clocks(gpu))
    if gpu.temperatures:
        parts.append(" ".join(f"{t.label} {t.millidegrees_c / MILLIDEGREES_PER_DEGREE:.0f}C" for t in gpu.temperatures))
    parts.extend(_fan(gpu) + _power(gpu))
    if gpu.performance_level:
        parts.append(gpu.performance_level if gpu.vendor == "nvidia" else f"perf {gpu.performance_level}")
    if gpu.mig_enabled:
        parts.append("MIG on")
    return "  ".join(parts)


def process_lines(gpu: GpuReading) -> list[str]:
    """Each process the principal may see (PID, name, container), then the rest as one sum."""
    lines = [
        f"  pid {proc.pid}  {proc.name or '?'}  in {proc.container}  {_size(proc.vram_used_bytes)}"
        for proc in gpu.processes
    ]
    if gpu.other_processes is not None:
        lines.append(other_line(gpu.other_processes))
    return lines


def other_line(other: OtherProcesses) -> str:
    noun = "process" if other.count == 1 else "processes"
    return f"  other: {other.count} {noun}, {format_bytes(other.vram_used_bytes)}"


def source_lines(source: SourceReport, *, show_absent: bool) -> list[str]:
    """Why a source is absent or failed, and each per-file problem."""
    lines: list[str] = []
    if source.status != OK and (show_absent or source.status != NOT_AVAILABLE):
        lines.append(f"{source.source}: {source.status}: {source.message}")
    lines.extend(f"{source.source}: problem: {problem}" for problem in source.problems)
    return lines


def _load(gpu: GpuReading) -> list[str]:
    if gpu.busy_percent is None:
        return []
    memory = f" mem {gpu.memory_busy_percent}%" if gpu.memory_busy_percent is not None else ""
    return [f"busy {gpu.busy_percent}%{memory}"]


def _clocks(gpu: GpuReading) -> list[str]:
    core, memory = CLOCK_LABELS.get(gpu.vendor, ("core", "memory"))
    shown = [(core, gpu.sclk_mhz), (memory, gpu.mclk_mhz)]
    return [f"{label} {mhz} MHz" for label, mhz in shown if mhz is not None]


def _fan(gpu: GpuReading) -> list[str]:
    speeds = [f"{gpu.fan_rpm} RPM"] if gpu.fan_rpm is not None else []
    speeds += [f"{gpu.fan_percent}%"] if gpu.fan_percent is not None else []
    return [f"fan {' '.join(speeds)}"] if speeds else []


def _power(gpu: GpuReading) -> list[str]:
    if gpu.power_uw is None:
        return []
    text = f"{gpu.power_uw / MICROWATTS_PER_WATT:.1f} W"
    if gpu.power_cap_uw:
        text += f" / {gpu.power_cap_uw / MICROWATTS_PER_WATT:.0f} W cap"
    # amdgpu's power sensor on an APU is the whole chip's, CPU cores included (amdgpu_pm.c hwmon DOC)
    return [f"SoC {text}" if gpu.power_scope == "soc" else text]


def _memory(gpu: GpuReading) -> str:
    label = "VRAM+GTT" if gpu.integrated and gpu.memory_total_bytes != gpu.vram_total_bytes else "VRAM"
    used, total = gpu.memory_used_bytes, gpu.memory_total_bytes
    text = f"{label} {_size(used)} / {_size(total)}"
    if used is not None and total:
        text += f" ({100 * used / total:.0f}%)"
    return text


def _size(count: int | None) -> str:
    return "?" if count is None else format_bytes(count)
