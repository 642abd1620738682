"""Default paths, in a module light enough for the client's start-up."""

from __future__ import annotations

from pathlib import Path

DEFAULT_POLICY_PATH = Path("/etc/rshell/policy.yaml")
DEFAULT_SOCKET = Path("/run/rshell/rshell.sock")
