"""Default paths, in a module light enough for the client's start-up (no pathlib)."""

from __future__ import annotations

DEFAULT_POLICY_PATH = "/etc/rshell/policy.yaml"
DEFAULT_SOCKET = "/run/rshell/rshell.sock"


def lanes_directory(shared: str) -> str:
    """Where the lanes (rshell.broker.lanes) of the broker listening on ``shared`` are."""
    return f"{shared}.lanes"


def lane_path(shared: str, uid: int) -> str:
    """Where uid's own socket (its lane) of the broker listening on ``shared`` is."""
    return f"{lanes_directory(shared)}/{uid}"
