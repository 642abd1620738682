"""The NVML source: absent binding, the real binding without a driver, and a minimal present NVML."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from rshell.gpu.model import GpuProcess, Temperature
from rshell.gpu.nvml import read_nvml

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
        return [SimpleNamespace(pid=4242, usedGpuMemory=9 * GiB), SimpleNamespace(pid=77, usedGpuMemory=None)]


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
    assert gpu.processes == (GpuProcess(4242, 9 * GiB), GpuProcess(77, None))
    assert gpu.power_uw is None  # not supported: quietly unknown
    assert gpu.busy_percent is None
    assert report.problems == ("nvml0: utilisation: GPU is lost",)


def test_an_init_failure_other_than_absence_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pynvml = install_stand_in(monkeypatch)

    def fail() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NO_PERMISSION)

    monkeypatch.setattr(pynvml, "nvmlInit", fail)

    report = read_nvml()

    assert (report.status, report.message) == ("error", "NVML: Insufficient Permissions")
