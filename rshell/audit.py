"""The audit log: one JSON line per invocation; state-changing verbs are recorded before they act."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

from rshell.errors import VerbFailed


class AuditLog:
    """Appends JSON lines to the policy's audit path; unwritable means the shell refuses to act."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            try:
                self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as error:
                raise VerbFailed(f"cannot write the audit log {self.path}: {error.strerror}; refusing to act") from None
        return self._fd

    def write(self, record: Mapping[str, object], *, sync: bool = False) -> None:
        """Append one record (one write call, so concurrent writers do not interleave lines)."""
        line = json.dumps({"time": time.time(), **record}, ensure_ascii=True, default=str) + "\n"
        fd = self._open()
        try:
            os.write(fd, line.encode("ascii"))
            if sync:
                os.fsync(fd)
        except OSError as error:
            raise VerbFailed(f"cannot write the audit log {self.path}: {error.strerror}; refusing to act") from None

    def ensure_writable(self) -> None:
        self._open()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
