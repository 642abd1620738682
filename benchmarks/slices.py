"""CPU slices as systemd lays them out on a host: ``system.slice`` (the broker's unit) next to
``user.slice``, in which each logged-in user has a ``user-UID.slice`` of equal weight.

systemd's defaults (systemd.resource-control(5): CPUWeight= defaults to 100 for every unit and
slice; user-UID.slice is made per user by systemd-logind under user.slice) mean that under
contention one user's processes get at most their share of the CPU, and the system services theirs,
whatever the user runs. A benchmark host without systemd has none of that; ``Slices`` builds the same
tree with the cgroup cpu controller (v1 ``cpu.shares``, or v2 ``cpu.weight``) so that a flood measures
the broker's fairness rather than the scheduler's lack of it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup")
#: the three leaves, as systemd names their places
LEAVES = ("system.slice/rshelld.service", "user.slice/user-honest.slice", "user.slice/user-agent.slice")


def cpu_root() -> Path | None:
    """Where cpu groups can be made here, or None (no writable cpu controller)."""
    if (V1 / "cpu.shares").exists():
        return V1 if os.access(V1, os.W_OK) else None
    controllers = V2 / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split() and os.access(V2, os.W_OK):
        return V2
    return None


class Slices:
    """The tree under ROOT/rshell-bench-PID; ``place(leaf, pid)`` moves a process (and its threads) in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.top = root / f"rshell-bench-{os.getpid()}"

    def __enter__(self) -> Slices:
        for leaf in LEAVES:
            (self.top / leaf).mkdir(parents=True, exist_ok=True)
        if self.root == V2:  # v2: the controller must be enabled for each level's children
            for parent in (self.root, self.top, self.top / "system.slice", self.top / "user.slice"):
                (parent / "cgroup.subtree_control").write_text("+cpu")
        return self

    def place(self, leaf: str, pid: int) -> None:
        (self.top / leaf / "cgroup.procs").write_text(str(pid))

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            (self.root / "cgroup.procs").write_text(str(os.getpid()))
        for path in sorted((p for p in self.top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                path.rmdir()
        with contextlib.suppress(OSError):
            self.top.rmdir()


@contextlib.contextmanager
def slices(wanted: bool) -> Iterator[Slices | None]:
    """The systemd-like tree when ``wanted`` and possible here, else None (and the run says so)."""
    root = cpu_root() if wanted else None
    if root is None:
        yield None
        return
    with Slices(root) as made:
        yield made
