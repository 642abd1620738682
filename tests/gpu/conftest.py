"""Build sysfs trees with the real amdgpu/KFD layout (symlinks included) from small descriptions."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: put a directory where a file is expected: reading it fails with EISDIR, even as root
IS_DIRECTORY = "<directory>"
#: a symlink to nowhere: the file is listed but cannot be opened
DANGLING = "<dangling link>"
#: a named pipe with no writer: a blocking open would hang forever
FIFO = "<fifo>"
#: file contents by path; None leaves the file out
FileContent = str | None

PCI_BRIDGE = "sys/devices/pci0000:00/0000:00:01.1"


@dataclass(frozen=True)
class Card:
    name: str
    slot: str
    #: files under the card's PCI device directory (``hwmon/hwmon2/temp1_input`` and the like)
    files: Mapping[str, FileContent]
    render_minor: int | None = None
    connectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kfd:
    #: topology node number → (gpu_id, drm_render_minor); gpu_id 0 is a CPU node
    nodes: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    #: pid → {file name → content}
    processes: Mapping[int, Mapping[str, FileContent]] = field(default_factory=dict)


def write_files(directory: Path, files: Mapping[str, FileContent]) -> None:
    for name, content in files.items():
        path = directory / name
        if content is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == IS_DIRECTORY:
            path.mkdir()
        elif content == FIFO:
            os.mkfifo(path)
        elif content == DANGLING:
            path.symlink_to("no-such-file")
        else:
            path.write_text(f"{content}\n")


def link(path: Path, target: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(os.path.relpath(target, path.parent))


def add_card(root: Path, card: Card) -> None:
    """``sys/class/drm/cardN`` → ``devices/.../SLOT/drm/cardN``, whose ``device`` → ``../../../SLOT``."""
    pci = root / PCI_BRIDGE / card.slot
    write_files(pci, card.files)
    drm_card = pci / "drm" / card.name
    drm_card.mkdir(parents=True)
    (drm_card / "device").symlink_to(f"../../../{card.slot}")
    link(root / "sys/class/drm" / card.name, drm_card)
    if card.render_minor is not None:
        (pci / "drm" / f"renderD{card.render_minor}").mkdir()
        link(root / "sys/class/drm" / f"renderD{card.render_minor}", pci / "drm" / f"renderD{card.render_minor}")
    for connector in card.connectors:
        entry = drm_card / f"{card.name}-{connector}"
        write_files(entry, {"status": "connected"})
        # worst case: a connector whose device link reaches the GPU, so only its name tells it apart
        (entry / "device").symlink_to(f"../../../../{card.slot}")
        link(root / "sys/class/drm" / entry.name, entry)


def add_kfd(root: Path, kfd: Kfd) -> None:
    base = root / "sys/class/kfd/kfd"
    for number, (gpu_id, minor) in kfd.nodes.items():
        properties = f"cpu_cores_count {0 if gpu_id else 8}\nsimd_count 96\ndrm_render_minor {minor}"
        write_files(base / "topology/nodes" / str(number), {"gpu_id": str(gpu_id), "properties": properties})
    for pid, files in kfd.processes.items():
        write_files(base / "proc" / str(pid), {"pasid": "32770", **files})


def build_sysfs(root: Path, cards: Sequence[Card], kfd: Kfd | None = None) -> Path:
    (root / "sys/class/drm").mkdir(parents=True, exist_ok=True)
    for card in cards:
        add_card(root, card)
    if kfd is not None:
        add_kfd(root, kfd)
    return root


DISCRETE = Card(
    "card0",
    "0000:03:00.0",
    {
        "vendor": "0x1002",
        "device": "0x744c",
        "uevent": "DRIVER=amdgpu\nPCI_ID=1002:744C\nPCI_SLOT_NAME=0000:03:00.0",
        "product_name": "AMD Radeon RX 7900 XTX",
        "mem_info_vram_total": str(24 << 30),
        "mem_info_vram_used": str(6 << 30),
        "mem_info_vis_vram_total": str(24 << 30),
        "mem_info_vis_vram_used": str(1 << 30),
        "mem_info_gtt_total": str(31 << 30),
        "mem_info_gtt_used": str(20 << 20),
        "gpu_busy_percent": "12",
        "hwmon/hwmon2/name": "amdgpu",
        "hwmon/hwmon2/temp1_input": "45000",
        "hwmon/hwmon2/temp1_label": "edge",
        "hwmon/hwmon2/temp2_input": "52000",
        "hwmon/hwmon2/temp2_label": "junction",
        "hwmon/hwmon2/in0_input": "850",
        "hwmon/hwmon2/power1_average": "35000000",
    },
    render_minor=128,
    connectors=("DP-1", "HDMI-A-1"),
)

APU = Card(
    "card1",
    "0000:c5:00.0",
    {
        "vendor": "0x1002",
        "device": "0x15bf",
        "mem_info_vram_total": str(512 << 20),
        "mem_info_vram_used": str(384 << 20),
        "mem_info_vis_vram_total": str(512 << 20),
        "mem_info_vis_vram_used": str(384 << 20),
        "mem_info_gtt_total": str(15 << 30),
        "mem_info_gtt_used": str(3 << 30),
        "gpu_busy_percent": "3",
        "hwmon/hwmon5/name": "amdgpu",
        "hwmon/hwmon5/temp1_input": "41000",
        "hwmon/hwmon5/temp1_label": "edge",
        "hwmon/hwmon5/in0_input": "1000",
        "hwmon/hwmon5/in1_input": "900",
        "hwmon/hwmon5/power1_input": "15000000",
    },
    render_minor=129,
)

KFD = Kfd(
    nodes={0: (0, 0), 1: (45678, 128), 2: (1234, 129)},
    processes={
        4242: {"vram_45678": str(5 << 30), "sdma_45678": "0"},
        5151: {"vram_45678": str(512 << 20)},
        6161: {"vram_1234": str(256 << 20)},
    },
)


@pytest.fixture
def amd_tree(tmp_path: Path) -> Path:
    """A discrete card with connectors and an APU, with ROCm processes on both."""
    return build_sysfs(tmp_path / "root", [DISCRETE, APU], KFD)


@pytest.fixture
def tree_with_second_card(tmp_path: Path) -> Callable[[Mapping[str, FileContent]], Path]:
    """A good card0 and a card1 like it but for the given files (None removes one)."""

    def build(changes: Mapping[str, FileContent]) -> Path:
        second = Card("card1", "0000:04:00.0", {**DISCRETE.files, **changes}, render_minor=129)
        return build_sysfs(tmp_path / "root", [DISCRETE, second])

    return build
