"""deploy/: the sshd drop-in explains every line, and the NixOS module parses and can find its Match block."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from rshell.broker.caps import Caps
from rshell.broker.refusals import MAX_LINGERING
from rshell.launcher import FORCED_COMMAND

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DROP_IN = DEPLOY / "sshd_config.d" / "rshell.conf"
NIXOS_MODULE = DEPLOY / "nixos" / "rshell.nix"


def test_every_sshd_setting_has_its_reason_above_it() -> None:
    """Each setting, or the run of settings it belongs to, comes right after a comment saying why."""
    reason = False
    for line in (raw.strip() for raw in DROP_IN.read_text().splitlines()):
        if line.startswith("#"):
            reason = True
        elif not line or line.startswith("Match "):
            reason = False
        else:
            assert reason, f"no reason above {line!r}"


def test_drop_in_forces_the_launchers_command() -> None:
    text = DROP_IN.read_text()
    assert f"ForceCommand {FORCED_COMMAND}\n" in text
    assert text.count("Match Group rshell\n") == 1  # the NixOS module splits the file there


def test_nixos_module_parses() -> None:
    nix = shutil.which("nix-instantiate")
    if nix is None:
        pytest.skip("nix-instantiate is not installed (Debian: apt-get install nix-bin)")
    done = subprocess.run([nix, "--parse", str(NIXOS_MODULE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


UNIT = DEPLOY / "systemd" / "rshelld.service"


def _unit_settings() -> dict[str, str]:
    settings = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings[key] = value
    return settings


def test_the_units_limits_follow_from_the_brokers_caps() -> None:
    """LimitNOFILE, TasksMax and MemoryMax are worked out from the caps' defaults (comments in the unit)."""
    caps, settings, text = Caps(), _unit_settings(), UNIT.read_text()
    per_connection = 4  # the client socket; an MCP session's epoll and socket pair
    assert int(settings["LimitNOFILE"]) >= caps.threads * per_connection + caps.engine_connections + MAX_LINGERING + 64
    assert int(settings["TasksMax"]) > caps.threads
    assert settings["MemoryMax"].endswith("M")
    assert int(settings["MemoryMax"][:-1]) >= 256
    assert settings["RuntimeDirectoryMode"] == "0755"
    for flag, value in (
        ("--max-connections-per-uid", caps.connections_per_uid),
        ("--connection-rate-per-uid", caps.connection_rate_per_uid),
        ("--max-threads", caps.threads),
        ("--engine-connections", caps.engine_connections),
        ("--max-follows", caps.follows),
        ("--max-follows-per-uid", caps.follows_per_uid),
        ("--mcp-rate-per-uid", caps.mcp_rate_per_uid),
    ):
        assert f"{flag} {value}" in text, f"the unit's comment does not give {flag}'s default {value}"
