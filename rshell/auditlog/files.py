"""An audit log and its rotated files, oldest first, read line by line (``.gz`` ones too)."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

#: logrotate's names: ``audit.jsonl.3`` (numbered, higher is older) or ``audit.jsonl-20261201`` (dateext)
_ROTATED = re.compile(r"(?:\.(?P<number>\d{1,6})|-(?P<date>\d{8,14}))(?:\.gz)?")


def chain_files(path: Path) -> list[Path]:
    """``path``'s rotated files, oldest first, then ``path`` itself (when it exists)."""
    numbered: list[tuple[int, Path]] = []
    dated: list[tuple[str, Path]] = []
    if path.parent.is_dir():
        for sibling in path.parent.iterdir():
            if not sibling.name.startswith(path.name) or sibling == path:
                continue
            match = _ROTATED.fullmatch(sibling.name[len(path.name) :])
            if match is None:
                continue
            if match["number"] is not None:
                numbered.append((int(match["number"]), sibling))
            else:
                dated.append((match["date"], sibling))
    ordered = [item for _, item in sorted(dated)] + [item for _, item in sorted(numbered, reverse=True)]
    return ordered + ([path] if path.exists() else [])


def read_lines(path: Path) -> Iterator[bytes]:
    """Each line of the file with its newline (the last may lack one), decompressing ``.gz``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        yield from file
