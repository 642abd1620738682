"""Default paths, in a module light enough for the client's start-up (no pathlib)."""

from __future__ import annotations

DEFAULT_POLICY_PATH = "/etc/rshell/policy.yaml"
DEFAULT_SOCKET = "/run/rshell/rshell.sock"
