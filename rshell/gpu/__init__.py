"""GPU memory and load, read without privilege: amdgpu sysfs for AMD, NVML for NVIDIA.

Nothing here runs a program or needs root: ``read_snapshot`` reads files and calls NVML, and
every problem becomes a message in the snapshot, never an exception.
"""

from __future__ import annotations

from rshell.gpu.config import GpuConfig, gpu_config, read_snapshot
from rshell.gpu.model import GpuProcess, GpuReading, OtherProcesses, Snapshot, SourceReport, Temperature
from rshell.gpu.sampler import VramSampler

__all__ = [
    "GpuConfig",
    "GpuProcess",
    "GpuReading",
    "OtherProcesses",
    "Snapshot",
    "SourceReport",
    "Temperature",
    "VramSampler",
    "gpu_config",
    "read_snapshot",
]
