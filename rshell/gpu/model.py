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


@dataclass(frozen=True)
class GpuProcess:
    """A process holding GPU memory; ``vram_used_bytes`` is None when the driver does not say."""

    pid: int
    vram_used_bytes: int | None


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
            "processes": [{"pid": proc.pid, "vram_used_bytes": proc.vram_used_bytes} for proc in self.processes],
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
