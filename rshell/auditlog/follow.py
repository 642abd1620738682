"""``rshellctl audit --follow``: every record of the log and its rotated files, then each new one as it is written."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from rshell.auditlog.files import chain_files, read_lines

#: how often the live file is looked at for new records, a rotation or a truncation
POLL_SECONDS = 0.25


def follow_records(path: Path, poll: float = POLL_SECONDS) -> Iterator[dict[str, Any]]:
    """The rotated files' records (oldest first), then the live file's, then new ones forever: a rotation
    (a new file at ``path``) is followed once the old file is read to its end; a truncated file is read anew."""
    for older in chain_files(path)[:-1] if path.exists() else chain_files(path):
        for line in read_lines(older):
            yield from _parsed(line)
    file: IO[bytes] | None = None
    partial = b""
    try:
        while True:
            if file is None:
                file = _open(path)
                if file is None:
                    time.sleep(poll)
                    continue
            line = file.readline()
            if line:
                partial += line
                if partial.endswith(b"\n"):
                    yield from _parsed(partial)
                    partial = b""
                continue
            if _replaced(path, file):
                for rest in file:  # what was written to the old file after it was renamed, before the switch
                    yield from _parsed(partial + rest)
                    partial = b""
                file.close()
                file, partial = None, b""
            else:
                time.sleep(poll)
    finally:
        if file is not None:
            file.close()


def _open(path: Path) -> IO[bytes] | None:
    try:
        return open(path, "rb")  # kept open across yields; closed by follow_records
    except FileNotFoundError:
        return None


def _replaced(path: Path, file: IO[bytes]) -> bool:
    """Whether ``path`` is now another file (rotated away) or shorter than what was read (truncated)."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False  # rotated, the new file not there yet: keep the old one until it is
    mine = os.fstat(file.fileno())
    if (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
        return True
    if now.st_size < file.tell():
        file.seek(0)
    return False


def _parsed(line: bytes) -> Iterator[dict[str, Any]]:
    try:
        record = json.loads(line)
    except ValueError:
        return  # audit verify reports it; the view shows what it can read
    if isinstance(record, dict):
        yield record
