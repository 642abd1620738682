"""AMD GPUs from the amdgpu driver's sysfs files, under a configurable root: no ROCm, no root.

Files (kernel Documentation/gpu/amdgpu/driver-misc.rst, "GPU Memory Usage Information"), all in
bytes: ``mem_info_vram_total``/``_used``, ``mem_info_vis_vram_total``/``_used``,
``mem_info_gtt_total``/``_used``; ``gpu_busy_percent`` (a percentage) and ``product_name`` (only
on some cards). They live in ``sys/class/drm/cardN/device/``; ``cardN-DP-1`` and the like are
connectors, not cards.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from rshell.gpu.hwmon import read_hwmon
from rshell.gpu.kfd import ProcessesByRenderMinor, read_kfd_processes, render_minor
from rshell.gpu.model import ERROR, NOT_AVAILABLE, OK, GpuReading, SourceReport
from rshell.gpu.sysfs import AttributeReader, key_value_lines, list_directory

SOURCE = "amd"
AMD_VENDOR_ID = "0x1002"
_CARD = re.compile(r"card[0-9]+")
_PCI_SLOT = re.compile(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]")


def read_amdgpu(sysfs_root: Path) -> SourceReport:
    """Every amdgpu card under ``sysfs_root``; never raises."""
    drm = sysfs_root / "sys/class/drm"
    if not drm.is_dir():
        return SourceReport(SOURCE, NOT_AVAILABLE, f"no DRM devices ({drm} is missing)")
    problems: list[str] = []
    cards = list(list_directory(drm, _CARD, str(drm), problems))
    if problems:
        return SourceReport(SOURCE, ERROR, problems[0], problems=tuple(problems))
    processes = read_kfd_processes(sysfs_root, problems)
    gpus = tuple(gpu for card in cards if (gpu := _read_card(card, processes, problems)) is not None)
    return _report(gpus, problems, drm)


def _report(gpus: tuple[GpuReading, ...], problems: list[str], drm: Path) -> SourceReport:
    if not gpus:
        status = ERROR if problems else NOT_AVAILABLE
        message = "could not read any card (see problems)" if problems else f"no amdgpu card under {drm}"
        return SourceReport(SOURCE, status, message, problems=tuple(problems))
    if all(gpu.vram_total_bytes is None and gpu.vram_used_bytes is None for gpu in gpus):
        return SourceReport(SOURCE, ERROR, "no card gave a VRAM figure (see problems)", gpus, tuple(problems))
    return SourceReport(SOURCE, OK, "", gpus, tuple(problems))


def _read_card(card: Path, processes: ProcessesByRenderMinor, problems: list[str]) -> GpuReading | None:
    device = card / "device"
    reader = AttributeReader(device, card.name, problems)
    vendor = reader.text("vendor")
    if vendor is None or vendor.lower() != AMD_VENDOR_ID:
        return None
    pci_id = _pci_id(reader)
    hwmon = read_hwmon(device, card.name, problems)
    minor = render_minor(device, card.name, problems)
    return GpuReading(
        vendor=SOURCE,
        name=reader.text("product_name") or f"AMD GPU {pci_id or card.name}",
        device=card.name,
        pci_slot=_pci_slot(device, reader),
        pci_id=pci_id,
        integrated=hwmon.integrated,
        vram_total_bytes=reader.integer("mem_info_vram_total", required=True),
        vram_used_bytes=reader.integer("mem_info_vram_used", required=True),
        vis_vram_total_bytes=reader.integer("mem_info_vis_vram_total"),
        vis_vram_used_bytes=reader.integer("mem_info_vis_vram_used"),
        gtt_total_bytes=reader.integer("mem_info_gtt_total"),
        gtt_used_bytes=reader.integer("mem_info_gtt_used"),
        busy_percent=reader.integer("gpu_busy_percent"),
        temperatures=hwmon.temperatures,
        power_uw=hwmon.power_uw,
        processes=processes.get(minor, ()) if minor is not None else (),
    )


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
