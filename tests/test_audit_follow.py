"""``audit --follow`` reads what is there, then each record as it is written, across a logrotate rename."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path
from typing import Any

from rshell.auditlog.follow import follow_records


def append(path: Path, *numbers: int, partial: bool = False) -> None:
    text = "".join(json.dumps({"n": number}) + "\n" for number in numbers)
    with path.open("a") as file:
        file.write(text[:-3] if partial else text)


def test_follow_reads_on_across_a_rotation_and_a_half_written_line(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    append(tmp_path / "audit.jsonl.1", 1)  # an older rotated file is read first
    append(log, 2, 3)
    seen: queue.Queue[dict[str, Any]] = queue.Queue()

    def read() -> None:
        for record in follow_records(log, poll=0.02):
            seen.put(record)

    threading.Thread(target=read, daemon=True).start()
    assert [seen.get(timeout=10)["n"] for _ in range(3)] == [1, 2, 3]
    append(log, 4, partial=True)  # a writer's line not finished yet: nothing until its newline
    with log.open("a") as file:
        file.write("4}\nnot json\n")
    assert seen.get(timeout=10)["n"] == 4
    log.rename(tmp_path / "audit.jsonl.2")
    append(tmp_path / "audit.jsonl.2", 5)  # written to the old file just before the writer reopened
    append(log, 6)
    assert [seen.get(timeout=10)["n"] for _ in range(2)] == [5, 6]
    log.write_text('{"n":7}\n')  # copytruncate: the file starts again, shorter than what was read
    assert seen.get(timeout=10)["n"] == 7
