"""How fast the sanitiser handles one 256 KiB logs batch, as the renderers call it: ``python -m benchmarks.sanitize_speed``."""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable
from functools import partial

from commands.logs import BATCH_BYTES
from rshell.render.sanitize import sanitize, sanitize_lines

LINES = {
    "plain ASCII": '10.0.0.1 - - [01/Dec/2026:23:00:00 +0000] "GET /api/v1/items?id=42 HTTP/1.1" 200 512 "-" "curl/8"',
    "ANSI colours": "\x1b[32mINFO\x1b[0m 2026-12-01 \x1b[1mworker\x1b[0m processed job 42 in 12ms",
    "non-ASCII printable": "2026-12-01 пользователь 日本語 héllo ✓ processed job 42 in 12ms ok",
    "tab (stack trace)": "\tat com.example.Service.handle(Service.java:42)",
    "worst: all U+200B": "\u200b" * 80,
    "worst: all C1": "\x85" * 80,
}


def _best(run: Callable[[], object]) -> float:
    """The best of five rounds of ten runs, in seconds per run."""
    return min(timeit.repeat(run, number=10, repeat=5, timer=time.process_time)) / 10


def _human(lines: list[str]) -> str:
    return "\n".join(sanitize_lines(lines))


def main() -> None:
    print(f"{'256 KiB of':24} {'human renderer':>17} {'--json lines':>15} {'one text':>11}   (ms of CPU)")
    for label, line in LINES.items():
        lines = [line] * (BATCH_BYTES // (len(line.encode()) + 1))
        text = "\n".join(lines)
        human = _best(partial(_human, lines))
        data = _best(partial(sanitize_lines, lines))
        whole = _best(partial(sanitize, text))
        print(f"{label:24} {human * 1e3:14.2f} ms {data * 1e3:12.2f} ms {whole * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
