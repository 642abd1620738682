"""NVIDIA GPUs through NVML's official Python binding (``pynvml`` from nvidia-ml-py), imported lazily.

No binding, no library or no driver means the source is "not available", not an error. NVML
reports bytes for memory, milliwatts for power and power limits, whole degrees Celsius, MHz for
clocks, percent for utilisation and fan, and the P-state as a number (NVML_PSTATE_0..15, 32 for
unknown), as NVIDIA's NVML API reference and nvidia-ml-py's pynvml.py give them. Memory info v2
(nvmlDeviceGetMemoryInfo_v2) counts reserved memory apart from ``used``; v1 folds it into ``used``,
so which version answered is recorded. MIG mode comes from nvmlDeviceGetMigMode (current, pending).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from rshell.gpu.model import ERROR, NOT_AVAILABLE, OK, GpuProcess, GpuReading, SourceReport, Temperature

SOURCE = "nvidia"
_NVML_ERROR_NOT_SUPPORTED = 3
_NVML_ERROR_DRIVER_NOT_LOADED = 9
_NVML_ERROR_LIBRARY_NOT_FOUND = 12
_ABSENT = (_NVML_ERROR_DRIVER_NOT_LOADED, _NVML_ERROR_LIBRARY_NOT_FOUND)
_LAST_PSTATE = 15
T = TypeVar("T")


def read_nvml() -> SourceReport:
    """Every GPU NVML knows; never raises."""
    try:
        import pynvml  # noqa: PLC0415 - optional, and slow to import: only when asked for
    except ImportError:
        return SourceReport(SOURCE, NOT_AVAILABLE, "the NVML binding (nvidia-ml-py) is not installed")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        status = NOT_AVAILABLE if getattr(error, "value", None) in _ABSENT else ERROR
        return SourceReport(SOURCE, status, f"NVML: {error}")
    except Exception as error:  # the binding loads a C library; nothing it raises may escape
        return SourceReport(SOURCE, ERROR, f"NVML: {error}")
    try:
        return _read_devices(pynvml)
    except Exception as error:
        return SourceReport(SOURCE, ERROR, f"NVML: {error}")
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def _read_devices(nvml: Any) -> SourceReport:
    problems: list[str] = []
    gpus = tuple(_read_device(nvml, index, problems) for index in range(int(nvml.nvmlDeviceGetCount())))
    if not gpus:
        return SourceReport(SOURCE, NOT_AVAILABLE, "NVML found no GPU", problems=tuple(problems))
    return SourceReport(SOURCE, OK, "", gpus, tuple(problems))


def _read_device(nvml: Any, index: int, problems: list[str]) -> GpuReading:
    device = f"nvml{index}"
    handle = nvml.nvmlDeviceGetHandleByIndex(index)

    def ask(what: str, call: Callable[[], T]) -> T | None:
        return _ask(nvml, problems, f"{device}: {what}", call)

    memory, version = ask("memory", lambda: _memory_info(nvml, handle)) or (None, None)
    pci = ask("PCI info", lambda: nvml.nvmlDeviceGetPciInfo(handle))
    utilisation = ask("utilisation", lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
    temperature = ask("temperature", lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
    power_mw = ask("power", lambda: nvml.nvmlDeviceGetPowerUsage(handle))
    limit_mw = ask("power limit", lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle))
    pstate = ask("P-state", lambda: nvml.nvmlDeviceGetPerformanceState(handle))
    mig = ask("MIG mode", lambda: nvml.nvmlDeviceGetMigMode(handle))
    return GpuReading(
        vendor=SOURCE,
        name=str(ask("name", lambda: nvml.nvmlDeviceGetName(handle)) or f"NVIDIA GPU {index}"),
        device=device,
        pci_slot=_pci_slot(pci),
        pci_id=_pci_id(pci),
        integrated=False,
        vram_total_bytes=_whole(getattr(memory, "total", None)),
        vram_used_bytes=_whole(getattr(memory, "used", None)),
        vram_reserved_bytes=_whole(getattr(memory, "reserved", None)),
        memory_info_version=version,
        busy_percent=_whole(getattr(utilisation, "gpu", None)),
        memory_busy_percent=_whole(getattr(utilisation, "memory", None)),
        temperatures=() if temperature is None else (Temperature("gpu", int(temperature) * 1000),),
        power_uw=None if power_mw is None else int(power_mw) * 1000,
        power_cap_uw=None if limit_mw is None else int(limit_mw) * 1000,
        fan_percent=_whole(ask("fan", lambda: nvml.nvmlDeviceGetFanSpeed(handle))),
        sclk_mhz=_whole(ask("graphics clock", lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_GRAPHICS))),
        mclk_mhz=_whole(ask("memory clock", lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM))),
        performance_level=f"P{pstate}" if isinstance(pstate, int) and 0 <= pstate <= _LAST_PSTATE else None,
        mig_enabled=bool(mig[0]) if isinstance(mig, (list, tuple)) and mig else None,
        processes=_processes(nvml, handle, ask),
    )


def _processes(nvml: Any, handle: object, ask: Callable[[str, Callable[[], Any]], Any]) -> tuple[GpuProcess, ...]:
    """Compute and graphics processes (nvidia-smi's C and G), one entry per PID, largest first."""
    found: dict[int, int | None] = {}
    compute = ask("processes", lambda: nvml.nvmlDeviceGetComputeRunningProcesses(handle)) or []
    graphics = ask("graphics processes", lambda: nvml.nvmlDeviceGetGraphicsRunningProcesses(handle)) or []
    for listing in (compute, graphics):
        for proc in listing:
            pid, used = _whole(getattr(proc, "pid", None)), _whole(getattr(proc, "usedGpuMemory", None))
            if pid is not None:
                previous = found.get(pid)
                found[pid] = used if previous is None else previous if used is None else max(previous, used)
    ordered = sorted(found.items(), key=lambda item: (-(item[1] or 0), item[0]))
    return tuple(GpuProcess(pid, used) for pid, used in ordered)


def _memory_info(nvml: Any, handle: object) -> tuple[Any, str]:
    """Memory info v2 (total, reserved, used, free) where the binding and driver have it, else v1."""
    version = getattr(nvml, "nvmlMemory_v2", None)
    if version is not None:
        with contextlib.suppress(nvml.NVMLError):
            return nvml.nvmlDeviceGetMemoryInfo(handle, version=version), "v2"
    return nvml.nvmlDeviceGetMemoryInfo(handle), "v1"


def _ask(nvml: Any, problems: list[str], label: str, call: Callable[[], T]) -> T | None:
    """One NVML query; an unsupported field is None, any other failure also a problem line."""
    try:
        return call()
    except nvml.NVMLError as error:
        if getattr(error, "value", None) != _NVML_ERROR_NOT_SUPPORTED:
            problems.append(f"{label}: {error}")
        return None


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _pci_slot(pci: object) -> str | None:
    """NVML's bus id ``00000000:01:00.0`` in the kernel's form ``0000:01:00.0``."""
    bus_id = getattr(pci, "busId", None)
    if isinstance(bus_id, bytes):
        bus_id = bus_id.decode("ascii", "replace")
    if not isinstance(bus_id, str) or ":" not in bus_id:
        return None
    domain, _, rest = bus_id.lower().partition(":")
    return f"{domain[-4:]}:{rest}"


def _pci_id(pci: object) -> str | None:
    combined = getattr(pci, "pciDeviceId", None)
    if not isinstance(combined, int):
        return None
    return f"{combined & 0xFFFF:04x}:{combined >> 16:04x}"
