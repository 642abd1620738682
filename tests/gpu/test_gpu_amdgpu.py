"""The amdgpu reader against sysfs trees built to the kernel's layout, good and broken."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from rshell.gpu.amdgpu import read_amdgpu
from rshell.gpu.model import GpuProcess, GpuReading, SourceReport, Temperature

BuildTree = Callable[[Mapping[str, str | None]], Path]
GiB, MiB = 1 << 30, 1 << 20
HWMON_FILES = (
    "name",
    "temp1_input",
    "temp1_label",
    "temp2_input",
    "temp2_label",
    "in0_input",
    "power1_average",
)


def gpu(report: SourceReport, device: str) -> GpuReading:
    return next(reading for reading in report.gpus if reading.device == device)


def test_discrete_card_reports_every_documented_file(amd_tree: Path) -> None:
    report = read_amdgpu(amd_tree)

    assert (report.status, report.message, report.problems) == ("ok", "", ())
    assert gpu(report, "card0") == GpuReading(
        vendor="amd",
        name="AMD Radeon RX 7900 XTX",
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
        temperatures=(Temperature("edge", 45000), Temperature("junction", 52000)),
        power_uw=35_000_000,
        processes=(GpuProcess(4242, 5 * GiB), GpuProcess(5151, 512 * MiB)),
    )


def test_apu_counts_gtt_as_gpu_memory(amd_tree: Path) -> None:
    apu = gpu(read_amdgpu(amd_tree), "card1")

    assert apu.integrated is True  # hwmon in1_input, the northbridge voltage, exists on APUs only
    assert apu.memory_used_bytes == 384 * MiB + 3 * GiB
    assert apu.memory_total_bytes == 512 * MiB + 15 * GiB
    assert apu.power_uw == 15_000_000  # power1_input when there is no power1_average
    assert apu.processes == (GpuProcess(6161, 256 * MiB),)
    assert apu.name == "AMD GPU 1002:15bf"  # no product_name on this card


def test_connectors_and_other_vendors_are_not_cards(tree_with_second_card: BuildTree) -> None:
    report = read_amdgpu(tree_with_second_card({"vendor": "0x8086"}))

    assert [reading.device for reading in report.gpus] == ["card0"]
    assert report.problems == ()


POWER = "power1_average: cannot read (Is a directory)"
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
    report = read_amdgpu(tree_with_second_card(changes))

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
    assert gpu(report, "card1").temperatures == (Temperature("edge", 45000),)


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

    assert report.problems == ("kfd/proc/7000: vram_45678: not a whole number: 'lots'",)
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
