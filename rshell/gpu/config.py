"""Which GPU sources to read and where sysfs is: from the policy's vram settings only, never the user."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rshell.errors import PolicyError
from rshell.gpu.amdgpu import read_amdgpu
from rshell.gpu.model import Snapshot, SourceReport
from rshell.gpu.nvml import read_nvml

SOURCES = ("amd", "nvidia")


@dataclass(frozen=True)
class GpuConfig:
    sysfs_root: Path = Path("/")
    sources: tuple[str, ...] = SOURCES


def gpu_config(settings: Mapping[str, object]) -> GpuConfig:
    """The config from the vram verb's validated policy settings; absent keys take the defaults."""
    root = settings.get("sysfs_root", "/")
    if root is None:
        root = "/"
    if not isinstance(root, str) or not root.startswith("/"):
        raise PolicyError(f"vram settings: sysfs_root must be an absolute path, not {root!r}")
    return GpuConfig(Path(root), _sources(settings.get("sources")))


def _sources(value: object) -> tuple[str, ...]:
    if value is None:
        return SOURCES
    if not isinstance(value, (list, tuple)) or any(source not in SOURCES for source in value):
        raise PolicyError(f"vram settings: sources must be a list of {', '.join(SOURCES)}, not {value!r}")
    return tuple(dict.fromkeys(value))


def read_snapshot(config: GpuConfig) -> Snapshot:
    """Read every configured source once; never raises."""
    readers: dict[str, Callable[[], SourceReport]] = {
        "amd": lambda: read_amdgpu(config.sysfs_root),
        "nvidia": read_nvml,
    }
    return Snapshot(tuple(readers[source]() for source in config.sources))
