"""Per-process VRAM of ROCm (KFD) processes, from the world-readable files under /sys/class/kfd.

The amdkfd driver writes ``kfd/proc/<pid>/vram_<gpu_id>`` (bytes, see kfd_process.c) and, per
topology node, ``gpu_id`` and a ``properties`` file whose ``drm_render_minor`` names the card's
render node (``renderD128``); that minor ties a gpu_id to a DRM card.
"""

from __future__ import annotations

import re
from pathlib import Path

from rshell.gpu.model import GpuProcess
from rshell.gpu.sysfs import AttributeReader, key_value_lines, list_directory

_NODE = re.compile(r"[0-9]+")
_PROCESS = re.compile(r"[0-9]+")
_VRAM_FILE = re.compile(r"vram_([0-9]+)")
_RENDER_NODE = re.compile(r"renderD([0-9]+)")

ProcessesByRenderMinor = dict[int, tuple[GpuProcess, ...]]


def read_kfd_processes(sysfs_root: Path, problems: list[str]) -> ProcessesByRenderMinor:
    """Processes holding VRAM, by the DRM render minor of their GPU; empty without KFD."""
    kfd = sysfs_root / "sys/class/kfd/kfd"
    minors = _render_minors_by_gpu_id(kfd / "topology/nodes", problems)
    if not minors:
        return {}
    found: dict[int, list[GpuProcess]] = {}
    # a problem line must not name a PID: the process may be a hidden container's (see visibility.py)
    per_process: list[str] = []
    for process in list_directory(kfd / "proc", _PROCESS, "kfd/proc", problems):
        reader = AttributeReader(process, "kfd/proc", per_process)
        for path in list_directory(process, _VRAM_FILE, reader.label, per_process):
            minor = minors.get(int(path.name.removeprefix("vram_")))
            used = reader.integer(path.name)
            if minor is not None and used is not None:
                found.setdefault(minor, []).append(GpuProcess(int(process.name), used))
    if per_process:
        problems.append(f"kfd/proc: {len(per_process)} per-process file(s) could not be read")
    return {minor: _largest_first(processes) for minor, processes in found.items()}


def render_minor(device: Path, card: str, problems: list[str]) -> int | None:
    """The render node minor of a card's PCI device (``device/drm/renderD128`` → 128)."""
    node = next(list_directory(device / "drm", _RENDER_NODE, f"{card}: drm", problems), None)
    return int(node.name.removeprefix("renderD")) if node else None


def _render_minors_by_gpu_id(nodes: Path, problems: list[str]) -> dict[int, int]:
    minors: dict[int, int] = {}
    for node in list_directory(nodes, _NODE, "kfd/topology/nodes", problems):
        reader = AttributeReader(node, f"kfd/topology/nodes/{node.name}", problems)
        gpu_id = reader.integer("gpu_id")
        if not gpu_id:  # 0 marks a CPU node
            continue
        properties = key_value_lines(reader.text("properties") or "")
        minor = properties.get("drm_render_minor", "")
        if minor.isdigit():
            minors[gpu_id] = int(minor)
    return minors


def _largest_first(processes: list[GpuProcess]) -> tuple[GpuProcess, ...]:
    return tuple(sorted(processes, key=lambda process: (-(process.vram_used_bytes or 0), process.pid)))
