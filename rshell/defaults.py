"""Default paths, in a module light enough for the client's start-up (no pathlib)."""

from __future__ import annotations

DEFAULT_POLICY_PATH = "/etc/rshell/policy.yaml"
DEFAULT_SOCKET = "/run/rshell/rshell.sock"


def lane_path(shared: str, uid: int) -> str:
    """Where uid's own socket (its lane, rshell.broker.lanes) of the broker listening on ``shared`` is."""
    return f"{shared}.lanes/{uid}"
