"""State files that fail closed: an exclusive flock on a lock file, and whole-file atomic replacement.

Shared by every piece of state that must survive a crash whole (rate limits, approval requests):
a reader sees the old file or the new one, never a truncated one (temp file in the same directory,
fsync, rename, fsync of the directory, as rename(2) and fsync(2) promise).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from rshell.errors import VerbFailed


@contextlib.contextmanager
def exclusive_lock(lock_path: Path, what: str) -> Iterator[None]:
    """Hold an flock on ``lock_path`` (made 0600 in a 0700 directory if missing); ``what`` names the
    state in the one-line error when the lock cannot be had."""
    try:
        lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise VerbFailed(f"cannot open the lock of the {what} {lock_path}: {error.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def replace_atomically(path: Path, data: bytes, what: str) -> None:
    """Make ``path`` hold exactly ``data`` (mode 0600), or leave the old file whole and raise VerbFailed."""
    directory = path.parent
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise VerbFailed(f"cannot write the {what} in {directory}: {error.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_directory(directory)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise VerbFailed(f"cannot write the {what} {path}: {error.strerror}") from None


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
