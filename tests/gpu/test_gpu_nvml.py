"""The NVML source: absent binding, the real binding without a driver, and a minimal present NVML."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from rshell.gpu.model import GpuProcess, Temperature
from rshell.gpu.nvml import read_nvml
from rshell.gpu.text import gpu_line

GiB, MiB = 1 << 30, 1 << 20


def test_without_the_binding_nvidia_is_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml now raises ImportError

    report = read_nvml()

    assert (report.status, report.gpus) == ("not available", ())
    assert report.message == "the NVML binding (nvidia-ml-py) is not installed"


def test_the_real_binding_without_a_driver_is_not_available() -> None:
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this machine has an NVIDIA driver")

    report = read_nvml()

    assert (report.status, report.gpus) == ("not available", ())
    assert report.message.startswith("NVML: ")


class StandInNvml:
    """One GPU behind the real binding's function names; only what the reader calls."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        return f"handle{index}"

    def nvmlDeviceGetName(self, handle: str) -> str:
        return "NVIDIA GeForce RTX 4090"

    def nvmlDeviceGetPciInfo(self, handle: str) -> SimpleNamespace:
        return SimpleNamespace(busId=b"00000000:01:00.0", pciDeviceId=0x268410DE)

    def nvmlDeviceGetMemoryInfo(self, handle: str, version: int | None = None) -> SimpleNamespace:
        assert version == self.nvml.nvmlMemory_v2
        return SimpleNamespace(total=24 * GiB, reserved=300 * MiB, used=10 * GiB, free=13 * GiB)

    def nvmlDeviceGetUtilizationRates(self, handle: str) -> SimpleNamespace:
        raise self.nvml.NVMLError(self.nvml.NVML_ERROR_GPU_IS_LOST)

    def nvmlDeviceGetTemperature(self, handle: str, sensor: int) -> int:
        return 61

    def nvmlDeviceGetPowerUsage(self, handle: str) -> int:
        raise self.nvml.NVMLError(self.nvml.NVML_ERROR_NOT_SUPPORTED)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: str) -> list[SimpleNamespace]:
        # pynvml turns NVML_VALUE_NOT_AVAILABLE into None
        return [SimpleNamespace(pid=4242, usedGpuMemory=9 * GiB), SimpleNamespace(pid=77, usedGpuMemory=None)]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=4242, usedGpuMemory=9 * GiB), SimpleNamespace(pid=900, usedGpuMemory=200 * MiB)]

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: str) -> int:
        return 450_000  # milliwatts

    def nvmlDeviceGetPerformanceState(self, handle: str) -> int:
        return 2  # NVML_PSTATE_2

    def nvmlDeviceGetFanSpeed(self, handle: str) -> int:
        return 30

    def nvmlDeviceGetClockInfo(self, handle: str, clock: int) -> int:
        return {self.nvml.NVML_CLOCK_GRAPHICS: 2520, self.nvml.NVML_CLOCK_MEM: 10501}[clock]

    def nvmlDeviceGetMigMode(self, handle: str) -> list[int]:
        raise self.nvml.NVMLError(self.nvml.NVML_ERROR_NOT_SUPPORTED)  # a GeForce has no MIG


def install_stand_in(monkeypatch: pytest.MonkeyPatch) -> Any:
    pynvml = pytest.importorskip("pynvml")
    stand_in = StandInNvml(pynvml)
    for name in dir(StandInNvml):
        if name.startswith("nvml"):
            monkeypatch.setattr(pynvml, name, getattr(stand_in, name))
    return pynvml


def test_a_present_gpu_is_read_with_units_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    install_stand_in(monkeypatch)

    report = read_nvml()

    assert report.status == "ok"
    (gpu,) = report.gpus
    assert (gpu.name, gpu.device, gpu.pci_slot, gpu.pci_id) == (
        "NVIDIA GeForce RTX 4090",
        "nvml0",
        "0000:01:00.0",
        "10de:2684",
    )
    assert (gpu.vram_total_bytes, gpu.vram_used_bytes, gpu.vram_reserved_bytes) == (24 * GiB, 10 * GiB, 300 * MiB)
    assert gpu.temperatures == (Temperature("gpu", 61000),)
    assert gpu.memory_info_version == "v2"
    # compute and graphics processes, once per PID, largest first
    assert gpu.processes == (GpuProcess(4242, 9 * GiB), GpuProcess(900, 200 * MiB), GpuProcess(77, None))
    assert gpu.power_uw is None  # not supported: quietly unknown
    assert (gpu.power_cap_uw, gpu.performance_level, gpu.fan_percent) == (450_000_000, "P2", 30)
    assert (gpu.sclk_mhz, gpu.mclk_mhz, gpu.mig_enabled) == (2520, 10501, None)
    assert gpu.busy_percent is None
    assert report.problems == ("nvml0: utilisation: GPU is lost",)


def test_a_driver_without_memory_info_v2_is_recorded_as_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    pynvml = install_stand_in(monkeypatch)

    def v1_only(handle: str, version: int | None = None) -> SimpleNamespace:
        if version is not None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        return SimpleNamespace(total=24 * GiB, used=10 * GiB + 300 * MiB, free=13 * GiB)  # used includes reserved

    monkeypatch.setattr(pynvml, "nvmlDeviceGetMemoryInfo", v1_only)

    (gpu,) = read_nvml().gpus

    assert (gpu.memory_info_version, gpu.vram_used_bytes, gpu.vram_reserved_bytes) == ("v1", 10 * GiB + 300 * MiB, None)


def test_mig_mode_in_force_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    pynvml = install_stand_in(monkeypatch)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetMigMode", lambda handle: [pynvml.NVML_DEVICE_MIG_ENABLE, 1])

    (gpu,) = read_nvml().gpus

    assert gpu.mig_enabled is True


def test_an_init_failure_other_than_absence_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pynvml = install_stand_in(monkeypatch)

    def fail() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NO_PERMISSION)

    monkeypatch.setattr(pynvml, "nvmlInit", fail)

    report = read_nvml()

    assert (report.status, report.message) == ("error", "NVML: Insufficient Permissions")


def test_an_nvidia_line_shows_what_nvidia_smi_users_look_for(monkeypatch: pytest.MonkeyPatch) -> None:
    pynvml = install_stand_in(monkeypatch)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetUtilizationRates", lambda handle: SimpleNamespace(gpu=30, memory=12))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetPowerUsage", lambda handle: 120_500)

    (gpu,) = read_nvml().gpus

    assert gpu_line(gpu) == (
        "nvml0  NVIDIA GeForce RTX 4090  0000:01:00.0  10de:2684  VRAM 10.0 GiB / 24.0 GiB (42%)  busy 30% mem 12%"
        "  graphics 2520 MHz  memory 10501 MHz  gpu 61C  fan 30%  120.5 W / 450 W cap  P2"
    )
