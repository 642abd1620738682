"""The audit log's hash chain as AuditLog writes it: across writers, reopen, logrotate and a restart."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rshell.audit import AuditLog
from rshell.auditlog.chain import GENESIS, line_hash
from rshell.auditlog.files import chain_files
from rshell.auditlog.verify import walk


def links(*paths: Path) -> list[tuple[str, str]]:
    """(prev, own hash) of each line, in order."""
    lines = [line for path in paths for line in path.read_bytes().splitlines(keepends=True)]
    return [(json.loads(line)["prev"], line_hash(line)) for line in lines]


def assert_one_chain(*paths: Path) -> None:
    pairs = links(*paths)
    assert [prev for prev, _ in pairs[1:]] == [own for _, own in pairs[:-1]]
    result = walk(list(paths))
    assert (result.broken, result.count) == ("", len(pairs))


def test_two_writers_on_one_file_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    first, second = AuditLog(path), AuditLog(path)  # two shells in-process, or a broker and a shell
    for index in range(5):
        (first if index % 2 else second).write({"verb": "ps", "n": index})
    assert links(path)[0][0] == GENESIS
    assert_one_chain(path)


def test_logrotate_and_a_restart_continue_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.write({"verb": "ps"})
    log.write({"verb": "restart", "phase": "intent"}, sync=True)
    os.rename(path, f"{path}.1")  # logrotate's move: the next record opens a new file
    log.write({"verb": "restart", "phase": "done"})
    log.reopen()  # SIGHUP after logrotate
    log.write({"verb": "logs"})
    log.close()
    AuditLog(path).write({"verb": "ps", "after": "restart"})  # a new broker reads the last hash on open
    os.rename(path, f"{path}.2")
    os.rename(f"{path}.1", f"{path}.3")
    os.rename(f"{path}.2", f"{path}.1")
    AuditLog(path).write({"verb": "ps", "after": "rotation while stopped"})  # names the last of PATH.1
    files = chain_files(path)
    assert files == [Path(f"{path}.3"), Path(f"{path}.1"), path]
    assert_one_chain(*files)
