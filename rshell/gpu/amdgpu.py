"""AMD GPUs from the amdgpu driver's sysfs files, under a configurable root: no ROCm, no root.

Files (kernel Documentation/gpu/amdgpu/driver-misc.rst, "GPU Memory Usage Information"), all in
bytes: ``mem_info_vram_total``/``_used``, ``mem_info_vis_vram_total``/``_used``,
``mem_info_gtt_total``/``_used``; and ``product_name`` ("only available for certain server
cards", read from the board's FRU EEPROM: consumer cards and APUs have none, and then the name
comes from pci.ids). They live in ``sys/class/drm/cardN/device/``; ``cardN-DP-1`` and the like are
connectors, not cards. The memory files are the memory manager's and stay readable while the card
is runtime-suspended; the power-management ones (amdpm.py, hwmon.py) are not read then.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from rshell.gpu.amdpm import PowerManagement, dpm_enabled, read_power_management, runtime_suspended
from rshell.gpu.hwmon import HwmonReading, read_hwmon
from rshell.gpu.kfd import ProcessesByRenderMinor, read_kfd_processes, render_minor
from rshell.gpu.model import ACTIVE, DPM_OFF, ERROR, NOT_AVAILABLE, OK, SUSPENDED, GpuReading, SourceReport
from rshell.gpu.pciids import DEFAULT_PCI_IDS, pci_name
from rshell.gpu.sysfs import AttributeReader, key_value_lines, list_directory

SOURCE = "amd"
AMD_VENDOR_ID = "0x1002"
_CARD = re.compile(r"card[0-9]+")
_PCI_SLOT = re.compile(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]")
_PCI_HEX = re.compile(r"0x([0-9a-f]{4})")
#: APUs without the vddnb sensor (gc 9.4.3): MI300A; its PCI device ID as amdgpu_drv.c lists it
_APUS_WITHOUT_VDDNB = frozenset({"74a0"})


def read_amdgpu(sysfs_root: Path, pci_ids: Path = DEFAULT_PCI_IDS) -> SourceReport:
    """Every amdgpu card under ``sysfs_root``; never raises."""
    drm = sysfs_root / "sys/class/drm"
    if not drm.is_dir():
        return SourceReport(SOURCE, NOT_AVAILABLE, f"no DRM devices ({drm} is missing)")
    problems: list[str] = []
    cards = list(list_directory(drm, _CARD, str(drm), problems))
    if problems:
        return SourceReport(SOURCE, ERROR, problems[0], problems=tuple(problems))
    processes = read_kfd_processes(sysfs_root, problems)
    gpus = tuple(gpu for card in cards if (gpu := _read_card(card, processes, pci_ids, problems)) is not None)
    return _report(gpus, problems, drm)


def _report(gpus: tuple[GpuReading, ...], problems: list[str], drm: Path) -> SourceReport:
    if not gpus:
        status = ERROR if problems else NOT_AVAILABLE
        message = "could not read any card (see problems)" if problems else f"no amdgpu card under {drm}"
        return SourceReport(SOURCE, status, message, problems=tuple(problems))
    if all(gpu.vram_total_bytes is None and gpu.vram_used_bytes is None for gpu in gpus):
        return SourceReport(SOURCE, ERROR, "no card gave a VRAM figure (see problems)", gpus, tuple(problems))
    return SourceReport(SOURCE, OK, "", gpus, tuple(problems))


def _read_card(card: Path, processes: ProcessesByRenderMinor, pci_ids: Path, problems: list[str]) -> GpuReading | None:
    device = card / "device"
    reader = AttributeReader(device, card.name, problems)
    vendor = reader.text("vendor")
    if vendor is None or vendor.lower() != AMD_VENDOR_ID:
        return None
    pci_id = _pci_id(reader)
    status = SUSPENDED if runtime_suspended(reader) else ACTIVE if dpm_enabled(reader) else DPM_OFF
    hwmon = read_hwmon(device, card.name, problems) if status == ACTIVE else HwmonReading()
    pm = read_power_management(reader) if status == ACTIVE else PowerManagement()
    if status == ACTIVE and not hwmon.present:
        problems.append(f"{card.name}: no hwmon sensors: temperature and power unknown")
    minor = render_minor(device, card.name, problems)
    integrated = _integrated(hwmon, pci_id)
    name, name_source, board = _name(reader, pci_id, pci_ids, card.name)
    return GpuReading(
        vendor=SOURCE,
        name=name,
        name_source=name_source,
        board_name=board,
        device=card.name,
        pci_slot=_pci_slot(device, reader),
        pci_id=pci_id,
        integrated=integrated,
        status=status,
        vram_total_bytes=reader.integer("mem_info_vram_total", required=True),
        vram_used_bytes=reader.integer("mem_info_vram_used", required=True),
        vis_vram_total_bytes=reader.integer("mem_info_vis_vram_total"),
        vis_vram_used_bytes=reader.integer("mem_info_vis_vram_used"),
        gtt_total_bytes=reader.integer("mem_info_gtt_total"),
        gtt_used_bytes=reader.integer("mem_info_gtt_used"),
        busy_percent=pm.busy_percent,
        memory_busy_percent=pm.memory_busy_percent,
        sclk_mhz=pm.sclk_mhz,
        mclk_mhz=pm.mclk_mhz,
        performance_level=pm.performance_level,
        temperatures=hwmon.temperatures,
        power_uw=hwmon.power_uw,
        power_scope="soc" if integrated else "gpu",
        power_cap_uw=hwmon.power_cap_uw,
        fan_rpm=hwmon.fan_rpm,
        fan_percent=hwmon.fan_percent,
        processes=processes.get(minor, ()) if minor is not None else (),
    )


def _integrated(hwmon: HwmonReading, pci_id: str | None) -> bool | None:
    """An APU: vddnb is shown, or it is an APU that has none (MI300A); unknown without hwmon."""
    if pci_id is not None and pci_id.split(":")[1] in _APUS_WITHOUT_VDDNB:
        return True
    return hwmon.has_vddnb


def _name(reader: AttributeReader, pci_id: str | None, pci_ids: Path, card: str) -> tuple[str, str, str | None]:
    """(name, where it came from, board name): the FRU's product_name, else pci.ids, else the IDs."""
    product = reader.text("product_name")
    if product:
        return product, "driver", None
    if pci_id is not None:
        vendor, device = pci_id.split(":")
        known = pci_name(pci_ids, vendor, device, _subsystem(reader))
        if known is not None:
            return known.device, "pci.ids", known.subsystem
    return f"AMD GPU {pci_id or card}", "pci id", None


def _subsystem(reader: AttributeReader) -> tuple[str, str] | None:
    vendor = _PCI_HEX.fullmatch((reader.text("subsystem_vendor") or "").lower())
    device = _PCI_HEX.fullmatch((reader.text("subsystem_device") or "").lower())
    return (vendor[1], device[1]) if vendor and device else None


def _pci_id(reader: AttributeReader) -> str | None:
    device_id = (reader.text("device") or "").lower()
    if not re.fullmatch(r"0x[0-9a-f]{4}", device_id):
        return None
    return f"{AMD_VENDOR_ID[2:]}:{device_id[2:]}"


def _pci_slot(device: Path, reader: AttributeReader) -> str | None:
    """``0000:03:00.0``, from where the ``device`` link points, else from ``uevent``."""
    try:
        target = PurePosixPath(os.readlink(device)).name.lower()
    except OSError:
        target = ""
    if _PCI_SLOT.fullmatch(target):
        return target
    slot = key_value_lines(reader.text("uevent") or "").get("PCI_SLOT_NAME", "").lower()
    return slot if _PCI_SLOT.fullmatch(slot) else None
