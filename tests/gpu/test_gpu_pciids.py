"""Names from pci.ids, read as data: vendor, device and subsystem lines in the file's own syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from rshell.gpu.pciids import MAX_PCI_IDS_BYTES, PciName, pci_name

RX_7900 = "Navi 31 [Radeon RX 7900 XT/7900 XTX]"


@pytest.mark.parametrize(
    ("vendor", "device", "subsystem", "expected"),
    [
        ("1002", "744c", None, PciName(RX_7900)),
        ("1002", "744c", ("1da2", "e471"), PciName(RX_7900, "NITRO+ RX 7900 XTX Vapor-X")),
        ("1002", "744c", ("1234", "5678"), PciName(RX_7900)),  # an unlisted board: the chip's name
        ("1002", "15bf", ("1da2", "e471"), PciName("Phoenix1")),  # a subsystem line of another device
        ("10de", "2684", None, PciName("AD102 [GeForce RTX 4090]")),
        ("0ff0", "15bf", None, None),  # the device is another vendor's
        ("1002", "ffff", None, None),
        ("1002", "00", None, None),  # not four hex digits: not looked up
        ("1002", "744C", None, None),  # callers pass lowercase, as sysfs is normalised to
        ("1002", "\t744", None, None),
    ],
)
def test_lookup(pci_ids: Path, vendor: str, device: str, subsystem: tuple[str, str] | None, expected: object) -> None:
    assert pci_name(pci_ids, vendor, device, subsystem) == expected


def test_a_device_class_line_ends_the_vendor_list(tmp_path: Path) -> None:
    path = tmp_path / "pci.ids"
    path.write_text("1002  AMD\n\t15bf  Phoenix1\nC 03  Display controller\n\t744c  VGA-ish class entry\n")

    assert pci_name(path, "1002", "744c") is None  # class subentries are not AMD's devices


@pytest.mark.parametrize("kind", ["missing", "directory", "binary", "huge"])
def test_an_unusable_file_gives_no_name_and_no_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "pci.ids"
    if kind == "directory":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00" * 100 + b"\n1002  AMD\n\t744c  \xff\xfe\n")
    elif kind == "huge":
        with path.open("wb") as sparse:
            sparse.truncate(MAX_PCI_IDS_BYTES + 1)

    found = pci_name(path, "1002", "744c")

    assert found is None or kind == "binary"
    if kind == "binary":
        assert found is not None
        assert found.device == "\ufffd\ufffd"  # undecodable bytes are replaced, never raised
