"""The audit log: one JSON line per invocation; state-changing verbs are recorded before they act."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from rshell.auditlog.chain import GENESIS, LINK_BYTES, last_hash_of, last_line, line_hash, link
from rshell.auditlog.volume import AuditVolume, VolumeWindows
from rshell.errors import VerbFailed

#: argv entries and refused lines are kept up to this many characters; their full lengths are recorded
MAX_ARGUMENT_CHARS = 256
#: any other text field (reason, error, verb) is cut at this length
MAX_TEXT_CHARS = 1024


class AuditLog:
    """Appends JSON lines to the policy's audit path; unwritable means the shell refuses to act.

    The file is reopened when the path no longer names the open file (logrotate moved it) and on
    ``reopen()`` (the broker's SIGHUP). Each uid may write ``volume.max_bytes`` per ``volume.per_seconds``;
    records past that are counted, not written, and one summary record says how many when the
    window ends. Essential records (a state-changing verb's intent and done) are always written.

    Records form a hash chain (rshell/auditlog/chain.py): each carries ``prev``, the SHA-256 of the line
    before it, read from the file under an exclusive flock so several writers keep one chain; the first
    record of a new file (after logrotate) names the last hash of the old one."""

    def __init__(self, path: Path, volume: AuditVolume | None = None, clock: Callable[[], float] = time.monotonic):
        self.path = path
        self._fd: int | None = None
        self._reopen = False
        self._lock = threading.Lock()
        #: the hash the next record names, and the file size after this log's last write (-1: unknown)
        self._prev: str | None = None
        self._end = -1
        self._windows = VolumeWindows(volume or AuditVolume(), clock)
        atexit.register(self.flush)

    @property
    def volume(self) -> AuditVolume:
        return self._windows.volume

    def set_volume(self, volume: AuditVolume) -> None:
        with self._lock:
            self._windows.volume = volume

    def write(self, record: Mapping[str, object], *, sync: bool = False, essential: bool = False) -> None:
        """Append one record (one write call, so concurrent writers do not interleave lines).

        ``sync`` (an intent record) fsyncs it and implies ``essential``: never suppressed."""
        line = encode_record(record)
        with self._lock:
            self._write_summaries(self._windows.rolled())
            if not self._windows.admit(record, len(line) + LINK_BYTES, essential=essential or sync):
                return
            self._append(line, sync=sync)

    def ensure_writable(self) -> None:
        """Raise VerbFailed now, before any output, if the log cannot be opened.

        Every request asks this, so the usual case (the open file still at its path) takes no lock:
        concurrent requests would otherwise queue behind each other's writes."""
        fd = self._fd
        if fd is not None and not self._reopen and self._still_at_path(fd):
            return
        with self._lock:
            self._current_fd()

    def reopen(self) -> None:
        """The next record opens the path again (SIGHUP after logrotate). Only a flag, so a signal
        handler may call it while this thread is inside a write."""
        self._reopen = True

    def flush(self) -> None:
        """Write the summary of every window with suppressed records, ended or not."""
        if not self._lock.acquire(timeout=1.0):
            return
        try:
            self._write_summaries(self._windows.drain())
        except VerbFailed:
            pass  # at exit or shutdown there is no one left to refuse
        finally:
            self._lock.release()

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._close_fd()

    def _write_summaries(self, summaries: Sequence[Mapping[str, object]]) -> None:
        for summary in summaries:
            self._append(encode_record(summary), sync=False)

    def _append(self, line: bytes, *, sync: bool) -> None:
        fd = self._current_fd()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if size != self._end:  # another writer appended, or the file is new to this log
                    self._prev = self._chain_start(fd)
                chained = link(line, self._prev or GENESIS)
                os.write(fd, chained)
                if sync:
                    os.fsync(fd)
                self._prev, self._end = line_hash(chained), size + len(chained)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as error:
            raise VerbFailed(f"cannot write the audit log {self.path}: {error.strerror}; refusing to act") from None

    def _current_fd(self) -> int:
        if self._fd is not None and (self._reopen or not self._still_at_path(self._fd)):
            self._close_fd()
        self._reopen = False
        if self._fd is None:
            try:
                with contextlib.suppress(FileExistsError):  # a file in the way: the open says "Not a directory"
                    self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as error:
                raise VerbFailed(f"cannot write the audit log {self.path}: {error.strerror}; refusing to act") from None
        return self._fd

    def _chain_start(self, fd: int) -> str:
        """The hash the next record names: the file's last line's; for an empty file the last one this
        log wrote (the old file, after logrotate), else the last line of the rotated ``PATH.1``."""
        last = last_line(fd)
        if last is not None:
            return line_hash(last)
        return self._prev or last_hash_of(f"{self.path}.1") or GENESIS

    def _still_at_path(self, fd: int) -> bool:
        try:
            named, held = os.stat(self.path), os.fstat(fd)
        except OSError:
            return False
        return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self._end = None, -1


def encode_record(record: Mapping[str, object]) -> bytes:
    """One ASCII JSON line; text fields cut to MAX_TEXT_CHARS."""
    clipped = {key: _clip(value) for key, value in record.items()}
    return (json.dumps({"time": time.time(), **clipped}, ensure_ascii=True, default=str) + "\n").encode("ascii")


def argv_fields(argv: Sequence[str]) -> dict[str, object]:
    """``argv`` with each entry cut to MAX_ARGUMENT_CHARS; ``argv_lengths`` when any entry was cut."""
    fields: dict[str, object] = {"argv": [word[:MAX_ARGUMENT_CHARS] for word in argv]}
    if any(len(word) > MAX_ARGUMENT_CHARS for word in argv):
        fields["argv_lengths"] = [len(word) for word in argv]
    return fields


def line_fields(line: str) -> dict[str, object]:
    """A refused line cut to MAX_ARGUMENT_CHARS, with ``line_length`` when it was cut."""
    if len(line) <= MAX_ARGUMENT_CHARS:
        return {"line": line}
    return {"line": line[:MAX_ARGUMENT_CHARS], "line_length": len(line)}


def _clip(value: object) -> object:
    if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
        return f"{value[:MAX_TEXT_CHARS]}...({len(value)} characters)"
    return value
