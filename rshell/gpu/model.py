"""What a GPU reading is: frozen values with their units in their names, and their JSON form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rshell.events import JSONValue

OK: Final = "ok"
NOT_AVAILABLE: Final = "not available"
ERROR: Final = "error"


@dataclass(frozen=True)
class Temperature:
    """One temperature sensor: its label (``edge``, ``junction``, ``mem``, ``gpu``) and value."""

    label: str
    millidegrees_c: int


#: ``GpuReading.status``: sensors readable; the device is runtime-suspended (amdgpu answers its
#: power-management files with EPERM then); the driver runs without DPM (no hwmon, no pp_* files)
ACTIVE: Final = "active"
SUSPENDED: Final = "suspended"
DPM_OFF: Final = "dpm off"


@dataclass(frozen=True)
class GpuProcess:
    """A process holding GPU memory; ``vram_used_bytes`` is None when the driver does not say.

    ``name`` is /proc/PID/comm; ``container_id`` what its cgroup names; ``container`` that
    container's name, filled in only for containers the principal may see (see visibility.py).
    """

    pid: int
    vram_used_bytes: int | None
    name: str | None = None
    container_id: str | None = None
    container: str | None = None

    def document(self) -> dict[str, JSONValue]:
        return {
            "pid": self.pid,
            "name": self.name,
            "container": self.container,
            "vram_used_bytes": self.vram_used_bytes,
        }


@dataclass(frozen=True)
class OtherProcesses:
    """Processes the principal may not see (the host's, hidden containers'), as a count and a sum."""

    count: int
    vram_used_bytes: int

    def document(self) -> dict[str, JSONValue]:
        return {"count": self.count, "vram_used_bytes": self.vram_used_bytes}


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one moment. Every figure is None when it could not be read."""

    vendor: str
    name: str
    #: where the source found it: ``card0`` for amdgpu, ``nvml0`` for NVML's device index
    device: str
    pci_slot: str | None = None
    #: PCI vendor and device id, ``1002:744c``
    pci_id: str | None = None
    #: an integrated GPU (APU) whose "VRAM" is a small carve-out of system memory; None if unknown
    integrated: bool | None = None
    vram_total_bytes: int | None = None
    vram_used_bytes: int | None = None
    vram_reserved_bytes: int | None = None
    vis_vram_total_bytes: int | None = None
    vis_vram_used_bytes: int | None = None
    gtt_total_bytes: int | None = None
    gtt_used_bytes: int | None = None
    busy_percent: int | None = None
    temperatures: tuple[Temperature, ...] = ()
    power_uw: int | None = None
    processes: tuple[GpuProcess, ...] = ()
    #: where ``name`` came from: ``driver`` (product_name, NVML), ``pci.ids``, or ``pci id`` (none known)
    name_source: str = "driver"
    #: the board's name from pci.ids' subsystem line (``NITRO+ RX 7900 XTX Vapor-X``), when listed
    board_name: str | None = None
    status: str = ACTIVE
    #: ``gpu``, or ``soc`` on an APU, whose power sensor counts the whole chip with its CPU cores
    power_scope: str = "gpu"
    power_cap_uw: int | None = None
    sclk_mhz: int | None = None
    mclk_mhz: int | None = None
    fan_rpm: int | None = None
    fan_percent: int | None = None
    #: amdgpu's power_dpm_force_performance_level (``auto``, ``manual``...), NVIDIA's P-state (``P2``)
    performance_level: str | None = None
    memory_busy_percent: int | None = None
    #: NVML: which nvmlDeviceGetMemoryInfo answered, ``v2`` (used excludes reserved) or ``v1``
    memory_info_version: str | None = None
    #: NVML: MIG mode in force (True), off (False), or not supported / unknown (None)
    mig_enabled: bool | None = None
    other_processes: OtherProcesses | None = None

    @property
    def memory_used_bytes(self) -> int | None:
        """GPU memory in use: VRAM, plus GTT on an integrated GPU, which works from system memory."""
        return self._with_gtt(self.vram_used_bytes, self.gtt_used_bytes)

    @property
    def memory_total_bytes(self) -> int | None:
        return self._with_gtt(self.vram_total_bytes, self.gtt_total_bytes)

    def _with_gtt(self, vram: int | None, gtt: int | None) -> int | None:
        if not self.integrated or vram is None or gtt is None:
            return vram
        return vram + gtt

    def document(self) -> dict[str, JSONValue]:
        return {
            "vendor": self.vendor,
            "name": self.name,
            "device": self.device,
            "pci_slot": self.pci_slot,
            "pci_id": self.pci_id,
            "integrated": self.integrated,
            "memory_used_bytes": self.memory_used_bytes,
            "memory_total_bytes": self.memory_total_bytes,
            "vram_used_bytes": self.vram_used_bytes,
            "vram_total_bytes": self.vram_total_bytes,
            "vram_reserved_bytes": self.vram_reserved_bytes,
            "vis_vram_used_bytes": self.vis_vram_used_bytes,
            "vis_vram_total_bytes": self.vis_vram_total_bytes,
            "gtt_used_bytes": self.gtt_used_bytes,
            "gtt_total_bytes": self.gtt_total_bytes,
            "busy_percent": self.busy_percent,
            "temperatures_mc": {sensor.label: sensor.millidegrees_c for sensor in self.temperatures},
            "power_uw": self.power_uw,
            "processes": [process.document() for process in self.processes],
            "other_processes": self.other_processes.document() if self.other_processes else None,
            **self._details(),
        }

    def _details(self) -> dict[str, JSONValue]:
        return {
            "name_source": self.name_source,
            "board_name": self.board_name,
            "status": self.status,
            "power_scope": self.power_scope,
            "power_cap_uw": self.power_cap_uw,
            "sclk_mhz": self.sclk_mhz,
            "mclk_mhz": self.mclk_mhz,
            "fan_rpm": self.fan_rpm,
            "fan_percent": self.fan_percent,
            "performance_level": self.performance_level,
            "memory_busy_percent": self.memory_busy_percent,
            "memory_info_version": self.memory_info_version,
            "mig_enabled": self.mig_enabled,
        }


@dataclass(frozen=True)
class SourceReport:
    """What one source (``amd``, ``nvidia``) found: a status, a reason, GPUs and per-file problems."""

    source: str
    status: str
    message: str = ""
    gpus: tuple[GpuReading, ...] = ()
    problems: tuple[str, ...] = ()

    def document(self) -> dict[str, JSONValue]:
        return {
            "source": self.source,
            "status": self.status,
            "message": self.message,
            "gpu_count": len(self.gpus),
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class Snapshot:
    """Every configured source, read once."""

    sources: tuple[SourceReport, ...]

    @property
    def gpus(self) -> tuple[GpuReading, ...]:
        return tuple(gpu for source in self.sources for gpu in source.gpus)

    @property
    def memory_used_bytes(self) -> int | None:
        """GPU memory in use summed over every GPU that reported it; None when none did."""
        known = [gpu.memory_used_bytes for gpu in self.gpus if gpu.memory_used_bytes is not None]
        return sum(known) if known else None

    @property
    def all_failed(self) -> bool:
        """Every source errored (not merely absent): the reading as a whole failed."""
        return bool(self.sources) and all(source.status == ERROR for source in self.sources)

    def document(self) -> dict[str, JSONValue]:
        return {
            "gpus": [gpu.document() for gpu in self.gpus],
            "sources": [source.document() for source in self.sources],
        }
