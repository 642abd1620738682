"""The policies shipped in the repository are ones the shell accepts, and explain what they allow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize("name", ["policy.yaml", "examples/try-policy.yaml"])
def test_shipped_policy_passes_policy_check(name: str, tmp_path: Path) -> None:
    installed = tmp_path / "policy.yaml"  # a root-owned 0644 copy, as the install puts it in /etc/rshell
    shutil.copy(ROOT / name, installed)
    installed.chmod(0o644)

    completed = subprocess.run(
        [sys.executable, "-I", "-m", "rshell.ctl", "policy", "check", str(installed)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.splitlines()[0] == f"{installed}: valid"
    assert completed.stdout.splitlines()[-1] == "everything not listed is denied"
