"""amdgpu's power-management files of one card: load, current clocks, performance level, runtime state.

From amdgpu_pm.c (kernel Documentation/gpu/amdgpu/thermal.rst): ``gpu_busy_percent`` and
``mem_busy_percent``; ``pp_dpm_sclk``/``pp_dpm_mclk`` list the DPM levels as ``N: 1234Mhz`` and
mark the one in use with ``*``; ``power_dpm_force_performance_level`` (``auto``, ``manual``,
``profile_peak``...). amdgpu_pm_sysfs_init() creates none of them when DPM is off. Since the
kernel's amdgpu_pm_get_access_if_active(), reading them while the device is runtime-suspended
fails with EPERM rather than waking it, so a suspended card is recognised first from the PCI
device's ``power/runtime_status`` (Documentation/ABI/testing/sysfs-devices-power) and not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rshell.gpu.sysfs import AttributeReader

_CURRENT_LEVEL = re.compile(r"^\s*\w+:\s*([0-9]+)\s*mhz\s*\*\s*$", re.IGNORECASE | re.MULTILINE)
_SUSPENDED_STATES = ("suspended", "suspending")
PERFORMANCE_LEVEL = "power_dpm_force_performance_level"


@dataclass(frozen=True)
class PowerManagement:
    busy_percent: int | None = None
    memory_busy_percent: int | None = None
    sclk_mhz: int | None = None
    mclk_mhz: int | None = None
    performance_level: str | None = None


def runtime_suspended(reader: AttributeReader) -> bool:
    """The PCI device is runtime-suspended (or going there): its sensors would answer EPERM."""
    return (reader.text("power/runtime_status") or "") in _SUSPENDED_STATES


def dpm_enabled(reader: AttributeReader) -> bool:
    return (reader.directory / PERFORMANCE_LEVEL).exists()


def read_power_management(reader: AttributeReader) -> PowerManagement:
    level = reader.text(PERFORMANCE_LEVEL)
    return PowerManagement(
        busy_percent=reader.integer("gpu_busy_percent"),
        memory_busy_percent=reader.integer("mem_busy_percent"),
        sclk_mhz=_current_clock(reader, "pp_dpm_sclk"),
        mclk_mhz=_current_clock(reader, "pp_dpm_mclk"),
        performance_level=level if level and level.isprintable() and len(level) <= 32 else None,
    )


def _current_clock(reader: AttributeReader, name: str) -> int | None:
    """The MHz of the level marked ``*``; None when the file is absent (APUs have no pp_dpm_mclk)."""
    text = reader.text(name)
    match = _CURRENT_LEVEL.search(text or "")
    return int(match[1]) if match else None
