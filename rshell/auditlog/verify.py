"""``rshellctl audit verify``: walk the chain through every file and report its first broken link."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rshell.auditlog.chain import PREV_KEY, line_hash
from rshell.auditlog.files import chain_files, read_lines
from rshell.errors import ExitStatus, UsageError

USAGE = "usage: rshellctl audit verify [FILE] [--policy PATH] [--last] [--expect HASH]"


@dataclass
class Walk:
    """What the walk found: records linked, records written before the chain, the first break."""

    count: int = 0
    unchained: int = 0
    last_hash: str = ""
    last_where: str = ""
    broken: str = ""
    anchor_seen: bool = False


def walk(paths: Sequence[Path], expect: str | None = None) -> Walk:
    """Follow ``prev`` from line to line across ``paths`` (oldest first); stop at the first break."""
    result, expected = Walk(), None
    for path in paths:
        for number, line in enumerate(read_lines(path), start=1):
            where = f"{path}:{number}"
            problem = _link_problem(line, expected, result)
            if problem:
                result.broken = f"{where}: {problem}"
                return result
            expected = line_hash(line)
            result.last_hash, result.last_where = expected, where
            result.anchor_seen = result.anchor_seen or expected == expect
    return result


def _link_problem(line: bytes, expected: str | None, result: Walk) -> str:
    if not line.endswith(b"\n"):
        return "the line is cut short (no newline): a torn or truncated write"
    try:
        record = json.loads(line)
    except ValueError:
        return "not a JSON record"
    prev = record.get(PREV_KEY) if isinstance(record, dict) else None
    if prev is None:
        if result.count == 0:  # a log begun before the chain: counted, not checked
            result.unchained += 1
            return ""
        return "the record has no hash link: inserted or edited"
    if expected is not None and prev != expected:
        return (
            "broken link: the record names a previous hash the line before it does not have"
            " (the line before was edited, a record between them removed, or records reordered)"
        )
    result.count += 1
    return ""


def verify_program(
    argv: Sequence[str], default_log: Callable[[str | None], Path], write: Callable[[str], object]
) -> int:
    """Exit 0 with ``OK`` and the count, 1 with the first broken link; ``default_log(policy)`` is the
    policy's audit_log when no FILE is given."""
    file, policy, last, expect = _options(argv)
    path = Path(file) if file else default_log(policy)
    paths = chain_files(path)
    if not paths:
        write(f"audit verify: {path}: no such file")
        return ExitStatus.FAILED
    try:
        result = walk(paths, expect)
    except OSError as error:
        write(f"audit verify: cannot read {error.filename}: {error.strerror}")
        return ExitStatus.FAILED
    if result.broken:
        write(f"audit verify: BROKEN at {result.broken}; {result.count} records verified before it")
        return ExitStatus.FAILED
    if expect is not None and not result.anchor_seen:
        write(f"audit verify: BROKEN: the anchor {expect} is not in the chain (the log was truncated or replaced)")
        return ExitStatus.FAILED
    before = f" (and {result.unchained} older records without links)" if result.unchained else ""
    files = f" in {len(paths)} file(s)" if len(paths) > 1 else ""
    write(f"audit verify: OK: {result.count} records linked{files}{before}")
    if last:
        write(f"last: {result.last_hash} {result.last_where}")
    return ExitStatus.OK


def _options(argv: Sequence[str]) -> tuple[str | None, str | None, bool, str | None]:
    file: str | None = None
    policy: str | None = None
    expect: str | None = None
    last, words = False, list(argv)
    while words:
        word = words.pop(0)
        if word == "--last":
            last = True
        elif word in ("--policy", "--expect") and words:
            value = words.pop(0)
            policy, expect = (value, expect) if word == "--policy" else (policy, value.lower())
        elif not word.startswith("-") and file is None:
            file = word
        else:
            raise UsageError(USAGE)
    return file, policy, last, expect
