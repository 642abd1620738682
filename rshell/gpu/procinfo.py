"""Who a GPU process is: its name (``/proc/PID/comm``) and the Docker container its cgroup names.

``/proc/PID/cgroup`` (proc(5)) has one ``hierarchy-ID:controllers:path`` line per hierarchy; the
engine puts a container's processes under ``docker-<64 hex>.scope`` (systemd cgroup driver) or
``/docker/<64 hex>`` (cgroupfs driver). The last match on a line wins, so a nested engine's
container is named by the innermost engine. The proc root comes from the policy, never the user.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from rshell.gpu.model import GpuProcess
from rshell.gpu.sysfs import read_small_file

DEFAULT_PROC_ROOT = Path("/proc")
_CONTAINER_IN_CGROUP = re.compile(r"(?:/docker-([0-9a-f]{64})\.scope|/docker/([0-9a-f]{64}))(?=/|$)")
#: comm is at most 16 bytes (TASK_COMM_LEN) with its terminator; more is not a comm
_MAX_COMM_CHARACTERS = 64


def identify(process: GpuProcess, proc_root: Path) -> GpuProcess:
    """The process with its name and container ID filled in where /proc says; a gone process stays bare."""
    directory = proc_root / str(process.pid)
    return replace(process, name=_comm(directory), container_id=_container_id(directory))


def _comm(directory: Path) -> str | None:
    try:
        text = read_small_file(directory / "comm").decode("utf-8", "replace").strip()
    except OSError:
        return None
    return text[:_MAX_COMM_CHARACTERS] or None


def _container_id(directory: Path) -> str | None:
    try:
        text = read_small_file(directory / "cgroup").decode("ascii", "replace")
    except OSError:
        return None
    lines = text.splitlines()
    unified = [line for line in lines if line.startswith("0::")]  # cgroup v2 first: it is the one in force
    for line in (*unified, *lines):
        matches = list(_CONTAINER_IN_CGROUP.finditer(line.partition(":")[2].partition(":")[2]))
        if matches:
            last = matches[-1]
            return last[1] or last[2]
    return None
