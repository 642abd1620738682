"""The hash chain: each record line names the SHA-256 of the line before it in ``prev``."""

from __future__ import annotations

import hashlib
import os

#: ``prev`` of the first record of a log that has no earlier record to name
GENESIS = "0" * 64
#: the key each record carries
PREV_KEY = "prev"
#: the bytes ``link`` adds to a line (the volume cap counts them)
LINK_BYTES = len(f', "{PREV_KEY}": "{GENESIS}"')
#: how much of a file's end is read at a time to find its last line
_TAIL_CHUNK = 64 * 1024


def line_hash(line: bytes) -> str:
    """The hash the next record names: SHA-256 of the line's bytes without its newline."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def link(line: bytes, prev: str) -> bytes:
    """``line`` (one JSON object and its newline, as encode_record makes it) with ``prev`` added last."""
    body = line.rstrip(b"\n")
    if not body.endswith(b"}") or len(body) <= 2:
        raise ValueError("a record is a non-empty JSON object")
    return body[:-1] + b', "' + PREV_KEY.encode("ascii") + b'": "' + prev.encode("ascii") + b'"}\n'


def last_line(fd: int) -> bytes | None:
    """The file's last line (read backwards from its end through ``fd``), or None when it is empty."""
    end = os.fstat(fd).st_size
    if end == 0:
        return None
    tail, position = b"", end
    while position > 0:
        start = max(0, position - _TAIL_CHUNK)
        tail = os.pread(fd, position - start, start) + tail
        position = start
        newline = tail.rstrip(b"\n").rfind(b"\n")
        if newline >= 0:
            return tail[newline + 1 :]
    return tail


def last_hash_of(path: str) -> str | None:
    """The hash the next record after ``path``'s last line names; None when the file is absent or empty."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        line = last_line(fd)
    finally:
        os.close(fd)
    return None if line is None else line_hash(line)
