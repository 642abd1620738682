"""GPU names from the PCI ID database (``pci.ids``), read as data, for cards whose driver gives none.

The file's syntax is stated in its own header: a vendor line ``vvvv  name`` at column 0, its device
lines ``<TAB>dddd  name`` and, under each device, subsystem lines ``<TAB><TAB>ssss tttt  name``
(subvendor, subdevice). Debian ships it in the ``pci.ids`` package at /usr/share/misc/pci.ids.
Nothing is executed; a missing or unreadable file just means no name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PCI_IDS = Path("/usr/share/misc/pci.ids")
#: the real file is about 1.3 MB; anything far bigger is not the database
MAX_PCI_IDS_BYTES = 16 << 20
_HEX4 = re.compile(r"[0-9a-f]{4}")


@dataclass(frozen=True)
class PciName:
    """What the database says about one device: its name and, when listed, the board's name."""

    device: str
    subsystem: str | None = None


def pci_name(path: Path, vendor: str, device: str, subsystem: tuple[str, str] | None = None) -> PciName | None:
    """The name of ``vendor:device`` (4 lowercase hex digits each), with the subsystem's when listed."""
    if not (_HEX4.fullmatch(vendor) and _HEX4.fullmatch(device)):
        return None
    try:
        if path.stat().st_size > MAX_PCI_IDS_BYTES:
            return None
        with path.open(encoding="utf-8", errors="replace") as lines:
            return _find(lines, vendor, device, subsystem)
    except OSError:
        return None


def _find(lines: Iterable[str], vendor: str, device: str, subsystem: tuple[str, str] | None) -> PciName | None:
    in_vendor, found = False, None
    wanted_subsystem = f"{subsystem[0]} {subsystem[1]}" if subsystem else None
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith("\t"):
            if in_vendor or line.startswith("C "):  # past our vendor, or into the device-class list
                break
            in_vendor = line[:4].lower() == vendor
        elif in_vendor and not line.startswith("\t\t"):
            if found is not None:
                break
            if line[1:5].lower() == device:
                found = PciName(_name(line, 5))
        elif found is not None and wanted_subsystem and line[2:11].lower() == wanted_subsystem:
            return PciName(found.device, _name(line, 11))
    return found


def _name(line: str, start: int) -> str:
    return line[start:].strip()
