"""GpuConfig comes from the vram verb's policy settings, with defaults for what the policy leaves out."""

from __future__ import annotations

from pathlib import Path

import pytest

from rshell.errors import PolicyError
from rshell.gpu.config import GpuConfig, gpu_config, read_snapshot


def test_an_empty_settings_mapping_takes_the_defaults() -> None:
    assert gpu_config({}) == GpuConfig(Path("/"), ("amd", "nvidia"))


def test_settings_choose_root_and_sources_once_each() -> None:
    config = gpu_config({"sysfs_root": "/srv/sysfs", "sources": ["nvidia", "amd", "nvidia"]})

    assert config == GpuConfig(Path("/srv/sysfs"), ("nvidia", "amd"))


@pytest.mark.parametrize(
    "settings",
    [
        {"sysfs_root": "relative/path"},
        {"sysfs_root": 3},
        {"sources": "amd"},
        {"sources": ["amd", "intel"]},
    ],
)
def test_settings_the_policy_could_not_have_passed_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(PolicyError, match="vram settings"):
        gpu_config(settings)


def test_only_the_configured_sources_are_read(tmp_path: Path) -> None:
    snapshot = read_snapshot(GpuConfig(tmp_path, ("amd",)))

    assert [source.source for source in snapshot.sources] == ["amd"]
