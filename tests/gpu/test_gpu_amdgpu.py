"""The amdgpu reader against sysfs trees built to the kernel's layout, good and broken."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from rshell.gpu.amdgpu import read_amdgpu
from rshell.gpu.model import GpuProcess, GpuReading, SourceReport, Temperature
from rshell.gpu.pciids import DEFAULT_PCI_IDS
from tests.gpu.conftest import DISCRETE

BuildTree = Callable[[Mapping[str, str | None]], Path]
GiB, MiB = 1 << 30, 1 << 20
HWMON_FILES = tuple(name.removeprefix("hwmon/hwmon2/") for name in DISCRETE.files if name.startswith("hwmon/"))


def gpu(report: SourceReport, device: str) -> GpuReading:
    return next(reading for reading in report.gpus if reading.device == device)


def test_discrete_card_reports_every_documented_file(amd_tree: Path, pci_ids: Path) -> None:
    report = read_amdgpu(amd_tree, pci_ids)

    assert (report.status, report.message, report.problems) == ("ok", "", ())
    assert gpu(report, "card0") == GpuReading(
        vendor="amd",
        name="Navi 31 [Radeon RX 7900 XT/7900 XTX]",
        name_source="pci.ids",
        board_name="NITRO+ RX 7900 XTX Vapor-X",
        device="card0",
        pci_slot="0000:03:00.0",
        pci_id="1002:744c",
        integrated=False,
        vram_total_bytes=24 * GiB,
        vram_used_bytes=6 * GiB,
        vis_vram_total_bytes=24 * GiB,
        vis_vram_used_bytes=1 * GiB,
        gtt_total_bytes=31 * GiB,
        gtt_used_bytes=20 * MiB,
        busy_percent=12,
        memory_busy_percent=4,
        sclk_mhz=2482,
        mclk_mhz=1249,
        performance_level="auto",
        temperatures=(Temperature("edge", 45000), Temperature("junction", 52000), Temperature("mem", 60000)),
        power_uw=35_000_000,
        power_cap_uw=327_000_000,
        fan_rpm=1180,
        fan_percent=31,
        processes=(GpuProcess(4242, 5 * GiB), GpuProcess(5151, 512 * MiB)),
    )


def test_apu_counts_gtt_as_gpu_memory_and_its_power_is_the_socs(amd_tree: Path, pci_ids: Path) -> None:
    apu = gpu(read_amdgpu(amd_tree, pci_ids), "card1")

    assert apu.integrated is True  # hwmon in1_input, the northbridge voltage, exists on APUs only
    assert apu.memory_used_bytes == 384 * MiB + 3 * GiB
    assert apu.memory_total_bytes == 512 * MiB + 15 * GiB
    assert (apu.power_uw, apu.power_scope) == (15_000_000, "soc")  # power1_input: the whole chip, CPU too
    assert (apu.sclk_mhz, apu.mclk_mhz) == (800, None)
    assert apu.processes == (GpuProcess(6161, 256 * MiB),)
    assert (apu.name, apu.name_source, apu.board_name) == ("Phoenix1", "pci.ids", None)


def test_each_kind_of_card_reads_as_its_driver_exposes_it(every_card_tree: Path, pci_ids: Path) -> None:
    report = read_amdgpu(every_card_tree, pci_ids)
    server, mi300a, dpm_off, suspended = (gpu(report, f"card{number}") for number in (2, 3, 4, 5))

    assert report.problems == ()
    assert (server.name, server.name_source, server.integrated, server.fan_rpm) == (
        "AMD Instinct MI210",
        "driver",
        False,
        None,
    )
    assert (server.performance_level, server.power_cap_uw) == ("manual", 300_000_000)
    # no vddnb on gc 9.4.3, still an APU; not in this pci.ids, so named by its IDs
    assert (mi300a.integrated, mi300a.power_scope, mi300a.name, mi300a.name_source) == (
        True,
        "soc",
        "AMD GPU 1002:74a0",
        "pci id",
    )
    assert (dpm_off.status, dpm_off.temperatures, dpm_off.busy_percent, dpm_off.vram_used_bytes) == (
        "dpm off",
        (),
        None,
        300 * MiB,
    )
    assert suspended.status == "suspended"
    assert (suspended.temperatures, suspended.busy_percent, suspended.power_uw, suspended.sclk_mhz) == (
        (),
        None,
        None,
        None,
    )
    assert suspended.vram_used_bytes == 12 * MiB  # the memory manager's files stay readable


def test_a_missing_pci_ids_file_falls_back_to_the_ids(amd_tree: Path, tmp_path: Path) -> None:
    card0 = gpu(read_amdgpu(amd_tree, tmp_path / "no-such-pci.ids"), "card0")

    assert (card0.name, card0.name_source, card0.board_name) == ("AMD GPU 1002:744c", "pci id", None)


def test_connectors_and_other_vendors_are_not_cards(tree_with_second_card: BuildTree) -> None:
    report = read_amdgpu(tree_with_second_card({"vendor": "0x8086"}))

    assert [reading.device for reading in report.gpus] == ["card0"]
    assert report.problems == ()


NO_PCI_IDS = Path("/nonexistent/pci.ids")
NO_HWMON = {f"hwmon/hwmon2/{name}": None for name in HWMON_FILES}
DIRECTORY, DANGLING = "<directory>", "<dangling link>"


@pytest.mark.parametrize(
    ("changes", "problem", "lost_field"),
    [
        ({"mem_info_vram_used": "garbage"}, "mem_info_vram_used: not a whole number: 'garbage'", "vram_used_bytes"),
        ({"mem_info_vram_total": DIRECTORY}, "mem_info_vram_total: cannot read (Is a directory)", "vram_total_bytes"),
        ({"mem_info_vram_used": DANGLING}, "mem_info_vram_used: missing", "vram_used_bytes"),
        ({"mem_info_vram_total": None}, "mem_info_vram_total: missing", "vram_total_bytes"),
        ({"mem_info_gtt_used": "-5"}, "mem_info_gtt_used: negative value -5", "gtt_used_bytes"),
        ({"gpu_busy_percent": "12%"}, "gpu_busy_percent: not a whole number: '12%'", "busy_percent"),
        ({"product_name": "Radeon\u2122"}, "product_name: not plain text", None),
        (
            {"hwmon/hwmon2/power1_average": DIRECTORY},
            "hwmon/hwmon2: power1_average: cannot read (Is a directory)",
            "power_uw",
        ),
        (NO_HWMON, "no hwmon sensors: temperature and power unknown", "power_uw"),
    ],
)
def test_a_broken_file_is_one_clear_problem_and_the_rest_still_reports(
    tree_with_second_card: BuildTree, changes: Mapping[str, str | None], problem: str, lost_field: str | None
) -> None:
    report = read_amdgpu(tree_with_second_card(changes), NO_PCI_IDS)

    assert report.status == "ok"
    assert report.problems == (f"card1: {problem}",)
    assert gpu(report, "card0").vram_used_bytes == 6 * GiB
    broken = gpu(report, "card1")
    assert broken.busy_percent is not None or lost_field == "busy_percent"
    if lost_field is not None:
        assert getattr(broken, lost_field) is None


def test_a_fifo_instead_of_a_file_cannot_hang_the_reader(tree_with_second_card: BuildTree) -> None:
    root = tree_with_second_card({"mem_info_vram_used": "<fifo>"})
    reports: list[SourceReport] = []
    reading = threading.Thread(target=lambda: reports.append(read_amdgpu(root)), daemon=True)

    reading.start()
    reading.join(timeout=5)

    assert not reading.is_alive(), "reading a FIFO blocked"
    assert reports[0].problems == ("card1: mem_info_vram_used: empty",)


def test_a_garbage_temperature_loses_only_that_sensor(tree_with_second_card: BuildTree) -> None:
    report = read_amdgpu(tree_with_second_card({"hwmon/hwmon2/temp2_input": "hot"}))

    assert report.problems == ("card1: hwmon/hwmon2: temp2_input: not a whole number: 'hot'",)
    assert gpu(report, "card1").temperatures == (Temperature("edge", 45000), Temperature("mem", 60000))


def test_a_card_with_missing_hwmon_files_reports_without_sensors(tree_with_second_card: BuildTree) -> None:
    sensors = {f"hwmon/hwmon2/{name}": None for name in HWMON_FILES if name != "name"}
    broken = gpu(read_amdgpu(tree_with_second_card(sensors)), "card1")

    assert (broken.temperatures, broken.power_uw, broken.integrated) == ((), None, False)
    assert broken.vram_used_bytes == 6 * GiB


def test_a_bad_kfd_process_file_is_a_problem_and_other_processes_still_show(amd_tree: Path) -> None:
    process = amd_tree / "sys/class/kfd/kfd/proc/7000"
    process.mkdir()
    (process / "vram_45678").write_text("lots\n")

    report = read_amdgpu(amd_tree)

    assert report.problems == ("kfd/proc: 1 per-process file(s) could not be read",)  # no PID: it may be hidden
    assert [proc.pid for proc in gpu(report, "card0").processes] == [4242, 5151]


def test_no_card_with_a_vram_figure_is_a_source_error(amd_tree: Path) -> None:
    for card in ("card0", "card1"):
        for name in ("mem_info_vram_total", "mem_info_vram_used"):
            path = amd_tree / "sys/class/drm" / card / "device" / name
            path.unlink()
            path.mkdir()

    report = read_amdgpu(amd_tree)

    assert (report.status, report.message) == ("error", "no card gave a VRAM figure (see problems)")
    assert "card1: mem_info_vram_used: cannot read (Is a directory)" in report.problems
    assert len(report.gpus) == 2


@pytest.mark.parametrize("drm", [None, "a file, not a directory"])
def test_no_drm_directory_is_not_available(tmp_path: Path, drm: str | None) -> None:
    if drm is not None:
        (tmp_path / "sys/class").mkdir(parents=True)
        (tmp_path / "sys/class/drm").write_text(drm)

    report = read_amdgpu(tmp_path)

    assert (report.status, report.gpus) == ("not available", ())
    assert report.message == f"no DRM devices ({tmp_path}/sys/class/drm is missing)"


def test_only_connectors_and_no_amd_card_is_not_available(tmp_path: Path) -> None:
    (tmp_path / "sys/class/drm/card0-DP-1").mkdir(parents=True)
    (tmp_path / "sys/class/drm/version").write_text("drm 1.1.0 20060810\n")

    report = read_amdgpu(tmp_path)

    assert (report.status, report.message) == ("not available", f"no amdgpu card under {tmp_path}/sys/class/drm")


def test_debians_pci_ids_names_a_consumer_card(amd_tree: Path) -> None:
    if not DEFAULT_PCI_IDS.is_file():
        pytest.skip("Debian's pci.ids package is not installed (scripts/test installs it)")

    card0 = gpu(read_amdgpu(amd_tree), "card0")  # the default path: /usr/share/misc/pci.ids

    assert card0.name_source == "pci.ids"
    assert "7900 XTX" in card0.name
