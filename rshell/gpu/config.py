"""Which GPU sources to read and where sysfs, /proc and pci.ids are: from the policy's vram settings only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from rshell.errors import PolicyError
from rshell.gpu.amdgpu import read_amdgpu
from rshell.gpu.model import Snapshot, SourceReport
from rshell.gpu.nvml import read_nvml
from rshell.gpu.pciids import DEFAULT_PCI_IDS
from rshell.gpu.procinfo import DEFAULT_PROC_ROOT, identify

SOURCES = ("amd", "nvidia")


@dataclass(frozen=True)
class GpuConfig:
    sysfs_root: Path = Path("/")
    sources: tuple[str, ...] = SOURCES
    #: where /proc is (each GPU process's comm and cgroup); a fixture tree in tests
    proc_root: Path = DEFAULT_PROC_ROOT
    #: the PCI ID database (Debian's pci.ids package); a missing file means names fall back to IDs
    pci_ids: Path = DEFAULT_PCI_IDS


def gpu_config(settings: Mapping[str, object]) -> GpuConfig:
    """The config from the vram verb's validated policy settings; absent keys take the defaults."""
    return GpuConfig(
        sysfs_root=_absolute(settings, "sysfs_root", Path("/")),
        sources=_sources(settings.get("sources")),
        proc_root=_absolute(settings, "proc_root", DEFAULT_PROC_ROOT),
        pci_ids=_absolute(settings, "pci_ids", DEFAULT_PCI_IDS),
    )


def _absolute(settings: Mapping[str, object], key: str, default: Path) -> Path:
    value = settings.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or not value.startswith("/"):
        raise PolicyError(f"vram settings: {key} must be an absolute path, not {value!r}")
    return Path(value)


def _sources(value: object) -> tuple[str, ...]:
    if value is None:
        return SOURCES
    if not isinstance(value, (list, tuple)) or any(source not in SOURCES for source in value):
        raise PolicyError(f"vram settings: sources must be a list of {', '.join(SOURCES)}, not {value!r}")
    return tuple(dict.fromkeys(value))


def read_snapshot(config: GpuConfig) -> Snapshot:
    """Read every configured source once, each GPU process named from /proc; never raises."""
    readers: dict[str, Callable[[], SourceReport]] = {
        "amd": lambda: read_amdgpu(config.sysfs_root, config.pci_ids),
        "nvidia": read_nvml,
    }
    return Snapshot(tuple(_identified(readers[source](), config.proc_root) for source in config.sources))


def _identified(report: SourceReport, proc_root: Path) -> SourceReport:
    gpus = tuple(
        replace(gpu, processes=tuple(identify(proc, proc_root) for proc in gpu.processes)) for gpu in report.gpus
    )
    return replace(report, gpus=gpus)
