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


#: pm files every active card with DPM has (amdgpu_pm.c); APUs have no pp_dpm_mclk here
POWER_MANAGEMENT = {
    "power/runtime_status": "active",
    "power_dpm_force_performance_level": "auto",
    "pp_dpm_sclk": "0: 500Mhz\n1: 2482Mhz *\n2: 2526Mhz",
    "pp_dpm_mclk": "0: 96Mhz\n1: 456Mhz\n2: 772Mhz\n3: 1249Mhz *",
}

#: a consumer RDNA3 board (Sapphire NITRO+ RX 7900 XTX): no FRU, so no product_name
DISCRETE = Card(
    "card0",
    "0000:03:00.0",
    {
        "vendor": "0x1002",
        "device": "0x744c",
        "subsystem_vendor": "0x1da2",
        "subsystem_device": "0xe471",
        "uevent": "DRIVER=amdgpu\nPCI_ID=1002:744C\nPCI_SUBSYS_ID=1DA2:E471\nPCI_SLOT_NAME=0000:03:00.0",
        "mem_info_vram_total": str(24 << 30),
        "mem_info_vram_used": str(6 << 30),
        "mem_info_vis_vram_total": str(24 << 30),
        "mem_info_vis_vram_used": str(1 << 30),
        "mem_info_gtt_total": str(31 << 30),
        "mem_info_gtt_used": str(20 << 20),
        "gpu_busy_percent": "12",
        "mem_busy_percent": "4",
        **POWER_MANAGEMENT,
        "hwmon/hwmon2/name": "amdgpu",
        "hwmon/hwmon2/temp1_input": "45000",
        "hwmon/hwmon2/temp1_label": "edge",
        "hwmon/hwmon2/temp2_input": "52000",
        "hwmon/hwmon2/temp2_label": "junction",
        "hwmon/hwmon2/temp3_input": "60000",
        "hwmon/hwmon2/temp3_label": "mem",
        "hwmon/hwmon2/in0_input": "850",
        "hwmon/hwmon2/power1_average": "35000000",
        "hwmon/hwmon2/power1_cap": "327000000",
        "hwmon/hwmon2/fan1_input": "1180",
        "hwmon/hwmon2/pwm1": "79",
        "hwmon/hwmon2/pwm1_max": "255",
    },
    render_minor=128,
    connectors=("DP-1", "HDMI-A-1"),
)

#: a Phoenix APU (Ryzen 7040): a VRAM carve-out, GTT from system memory, vddnb, one power sensor
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
        "power/runtime_status": "active",
        "power_dpm_force_performance_level": "auto",
        "pp_dpm_sclk": "0: 800Mhz *\n1: 2700Mhz",
        "hwmon/hwmon5/name": "amdgpu",
        "hwmon/hwmon5/temp1_input": "41000",
        "hwmon/hwmon5/temp1_label": "edge",
        "hwmon/hwmon5/in0_input": "1000",
        "hwmon/hwmon5/in1_input": "900",
        "hwmon/hwmon5/power1_input": "15000000",
    },
    render_minor=129,
)

#: a server card with a FRU EEPROM (Instinct MI210): product_name is there; passive cooling, no fan
SERVER = Card(
    "card2",
    "0000:83:00.0",
    {
        "vendor": "0x1002",
        "device": "0x740f",
        "product_name": "AMD Instinct MI210",
        "mem_info_vram_total": str(64 << 30),
        "mem_info_vram_used": str(20 << 30),
        "mem_info_gtt_total": str(252 << 30),
        "mem_info_gtt_used": str(12 << 20),
        "gpu_busy_percent": "97",
        **POWER_MANAGEMENT,
        "pp_dpm_sclk": "0: 500Mhz\n1: 1700Mhz *",
        "pp_dpm_mclk": "0: 400Mhz\n1: 1600Mhz *",
        "power_dpm_force_performance_level": "manual",
        "hwmon/hwmon3/name": "amdgpu",
        "hwmon/hwmon3/temp1_input": "48000",
        "hwmon/hwmon3/temp1_label": "edge",
        "hwmon/hwmon3/temp2_input": "61000",
        "hwmon/hwmon3/temp2_label": "junction",
        "hwmon/hwmon3/temp3_input": "55000",
        "hwmon/hwmon3/temp3_label": "mem",
        "hwmon/hwmon3/power1_average": "290000000",
        "hwmon/hwmon3/power1_cap": "300000000",
    },
    render_minor=130,
)

#: MI300A (gc 9.4.3): an APU without vddnb ("only APUs other than gc 9,4,3 have vddnb"), no FRU name
MI300A = Card(
    "card3",
    "0000:02:00.0",
    {
        "vendor": "0x1002",
        "device": "0x74a0",
        "mem_info_vram_total": str(512 << 20),
        "mem_info_vram_used": str(100 << 20),
        "mem_info_gtt_total": str(120 << 30),
        "mem_info_gtt_used": str(40 << 30),
        "gpu_busy_percent": "50",
        "power/runtime_status": "active",
        "power_dpm_force_performance_level": "auto",
        "pp_dpm_sclk": "0: 500Mhz\n1: 2100Mhz *",
        "hwmon/hwmon4/name": "amdgpu",
        "hwmon/hwmon4/temp2_input": "58000",
        "hwmon/hwmon4/temp2_label": "junction",
        "hwmon/hwmon4/temp3_input": "50000",
        "hwmon/hwmon4/temp3_label": "mem",
        "hwmon/hwmon4/power1_input": "450000000",
    },
    render_minor=131,
)

#: amdgpu.dpm=0: amdgpu_pm_sysfs_init() creates no pm files and no hwmon; the memory files remain
DPM_OFF = Card(
    "card4",
    "0000:05:00.0",
    {
        "vendor": "0x1002",
        "device": "0x744c",
        "mem_info_vram_total": str(24 << 30),
        "mem_info_vram_used": str(300 << 20),
        "mem_info_gtt_total": str(31 << 30),
        "mem_info_gtt_used": str(4 << 20),
        "power/runtime_status": "active",
    },
    render_minor=132,
)

#: runtime-suspended: the pm and hwmon files are there but answer EPERM (here: stale values that
#: must not be shown; root reads any fixture file, so EPERM itself cannot be made in a test tree)
SUSPENDED = Card(
    "card5",
    "0000:06:00.0",
    {
        **DISCRETE.files,
        "mem_info_vram_used": str(12 << 20),
        "power/runtime_status": "suspended",
    },
    render_minor=133,
)

KFD = Kfd(
    nodes={0: (0, 0), 1: (45678, 128), 2: (1234, 129)},
    processes={
        4242: {"vram_45678": str(5 << 30), "sdma_45678": "0"},
        5151: {"vram_45678": str(512 << 20)},
        6161: {"vram_1234": str(256 << 20)},
    },
)

#: lines of Debian's pci.ids (2023.04.10) in its own syntax, for names that do not depend on the host
PCI_IDS = """\
# List of PCI ID's (an excerpt)
0ff0  Some Other Vendor
\t744c  Not this one
1002  Advanced Micro Devices, Inc. [AMD/ATI]
\t15bf  Phoenix1
\t740f  Aldebaran/MI200 [Instinct MI210]
\t744c  Navi 31 [Radeon RX 7900 XT/7900 XTX]
\t\t1da2 e471  NITRO+ RX 7900 XTX Vapor-X
\t\t1eae 7901  RX-79XMERCB9 [SPEEDSTER MERC 310 RX 7900 XTX]
\t7480  Navi 33 [Radeon RX 7700S/7600/7600S/7600M XT/PRO W7600]
10de  NVIDIA Corporation
\t2684  AD102 [GeForce RTX 4090]
C 03  Display controller
\t00  VGA compatible controller
"""


@pytest.fixture
def pci_ids(tmp_path: Path) -> Path:
    path = tmp_path / "pci.ids"
    path.write_text(PCI_IDS)
    return path


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


EVERY_CARD = (DISCRETE, APU, SERVER, MI300A, DPM_OFF, SUSPENDED)


@pytest.fixture
def every_card_tree(tmp_path: Path) -> Path:
    """One card of each kind the reader must get right, with ROCm processes on the first two."""
    return build_sysfs(tmp_path / "root", EVERY_CARD, KFD)


def docker_cgroup(container_id: str) -> str:
    """/proc/PID/cgroup of a process in a container, as this host's engine writes it (cgroupfs driver)."""
    controllers = ("name=systemd", "pids", "memory", "cpu")
    lines = [f"{9 - number}:{name}:/docker/{container_id}" for number, name in enumerate(controllers)]
    return "\n".join([*lines, f"0::/docker/{container_id}"])


def systemd_cgroup(container_id: str) -> str:
    """The same under the systemd cgroup driver on cgroup v2."""
    return f"0::/system.slice/docker-{container_id}.scope"


HOST_CGROUP = "0::/user.slice/user-1000.slice/session-2.scope"


def build_proc(root: Path, processes: Mapping[int, tuple[str, str]]) -> Path:
    """A /proc tree: pid → (comm, cgroup)."""
    for pid, (comm, cgroup) in processes.items():
        write_files(root / str(pid), {"comm": comm, "cgroup": cgroup})
    return root
