"""Show a principal only the GPU processes of containers it may see; everything else is one sum.

A process is listed (PID, name, container name) only when its cgroup names a container in the
principal's policy view. Processes of the host and of hidden containers become one ``other``
aggregate per GPU: a count and their VRAM, no PID, no name, nothing that tells them apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from rshell.gpu.model import GpuProcess, GpuReading, OtherProcesses, Snapshot, SourceReport


def container_ids(snapshot: Snapshot) -> set[str]:
    """The container IDs the snapshot's processes belong to (to know whether to ask the engine at all)."""
    return {proc.container_id for gpu in snapshot.gpus for proc in gpu.processes if proc.container_id}


def restrict(snapshot: Snapshot, visible: Mapping[str, str]) -> Snapshot:
    """``snapshot`` with only processes of ``visible`` containers (ID → name) listed."""
    return Snapshot(tuple(_restrict_source(source, visible) for source in snapshot.sources))


def _restrict_source(source: SourceReport, visible: Mapping[str, str]) -> SourceReport:
    return replace(source, gpus=tuple(_restrict_gpu(gpu, visible) for gpu in source.gpus))


def _restrict_gpu(gpu: GpuReading, visible: Mapping[str, str]) -> GpuReading:
    shown: list[GpuProcess] = []
    others: list[GpuProcess] = []
    for process in gpu.processes:
        name = visible.get(process.container_id or "")
        if name is None:
            others.append(process)
        else:
            shown.append(replace(process, container=name))
    other = OtherProcesses(len(others), sum(proc.vram_used_bytes or 0 for proc in others)) if others else None
    return replace(gpu, processes=tuple(shown), other_processes=other)
