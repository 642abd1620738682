"""deploy/: the sshd drop-in explains every line, and the NixOS module parses and can find its Match block."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

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
