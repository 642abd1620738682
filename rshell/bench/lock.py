"""One bench at a time per target, across processes: a non-blocking flock in the state directory.

Two benches on one GPU would measure each other, so the second is refused rather than queued:
nobody ever waits for this lock. The holder keeps it at most about its ``total_timeout``, since
every ollama call it makes has a deadline inside that and a cancel cuts it at once. The lock
belongs to the open file, so it is released when the holder exits, even on a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from rshell.errors import VerbFailed


def state_directory(state_dir: Path) -> Path:
    """The state directory, created (owner-only) when missing."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return state_dir


def lock_path(state_dir: Path, target: str) -> Path:
    return state_dir / f"bench-{target}.lock"


@contextlib.contextmanager
def target_lock(state_dir: Path, target: str) -> Iterator[None]:
    """Hold the target's lock for the block; raise VerbFailed at once when another bench holds it."""
    path = lock_path(state_directory(state_dir), target)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise VerbFailed(
                f"bench: target {target!r} is busy: another bench is running on it; try again later"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(descriptor)
