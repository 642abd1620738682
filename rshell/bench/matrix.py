"""The parameter matrix of a bench: every combination of the runner options asked for, within policy.

As llama-bench's comma lists (``-ngl 99,24 -b 256,512`` run every combination), ``--num-ctx``,
``--num-gpu``, ``--num-batch`` and ``--num-thread`` each take up to MAX_VALUES values; each
combination is one setup, benchmarked as its own row. ollama reloads the runner when any of these
options changes (server/sched.go needsReload), so each setup gets its own warm-up. An option not
given is not sent (the server's default), except num_ctx, which is always pinned.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from rshell.errors import Denied, UsageError

MAX_VALUES = 8
VALUE = re.compile(r"[0-9]{1,7}")
#: option -> (flag, least value the flag accepts)
OPTIONS: dict[str, tuple[str, int]] = {
    "num_ctx": ("--num-ctx", 256),
    "num_gpu": ("--num-gpu", 0),
    "num_batch": ("--num-batch", 1),
    "num_thread": ("--num-thread", 1),
}


@dataclass(frozen=True)
class Setup:
    """The runner options of one combination; None: not sent (num_ctx: the bench's default)."""

    num_ctx: int | None = None
    num_gpu: int | None = None
    num_batch: int | None = None
    num_thread: int | None = None

    def options(self, default_num_ctx: int) -> dict[str, int]:
        """What goes into /api/generate ``options``."""
        chosen = {"num_ctx": self.num_ctx or default_num_ctx, "num_gpu": self.num_gpu}
        chosen |= {"num_batch": self.num_batch, "num_thread": self.num_thread}
        return {key: value for key, value in chosen.items() if value is not None}

    def to_json(self, default_num_ctx: int) -> dict[str, int | None]:
        shown = {"num_ctx": self.num_ctx or default_num_ctx, "num_gpu": self.num_gpu}
        return shown | {"num_batch": self.num_batch, "num_thread": self.num_thread}


def parse_values(text: str | None, option: str) -> tuple[int, ...]:
    """``4096,8192`` as (4096, 8192); a usage error for anything else."""
    if text is None:
        return ()
    flag, least = OPTIONS[option]
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > MAX_VALUES or not all(VALUE.fullmatch(part) and int(part) >= least for part in parts):
        raise UsageError(f"bench: {flag} takes up to {MAX_VALUES} whole numbers >= {least}, like 1,2 (got {text!r})")
    return tuple(dict.fromkeys(int(part) for part in parts))


def expand(values: dict[str, tuple[int, ...]], caps: dict[str, int], max_matrix: int, target: str) -> tuple[Setup, ...]:
    """Every combination of ``values`` (option -> values), each value within ``caps`` (option -> the
    most the policy allows) and at most ``max_matrix`` combinations; Denied otherwise."""
    for option, chosen in values.items():
        over = [value for value in chosen if value > caps[option]]
        if over:
            flag = OPTIONS[option][0]
            raise Denied(f"bench: {flag} {over[0]} is more than target {target!r} allows ({caps[option]})")
    names = [option for option in OPTIONS if values.get(option)]
    combinations = list(itertools.product(*(values[option] for option in names)))
    if len(combinations) > max_matrix:
        raise Denied(
            f"bench: {len(combinations)} combinations of options is more than target {target!r} allows "
            f"(max_matrix {max_matrix})"
        )
    return tuple(Setup(**dict(zip(names, combination, strict=True))) for combination in combinations)


def label(setup: Setup, setups: tuple[Setup, ...]) -> str:
    """The options that tell this setup from the others in the matrix, e.g. ``num_gpu=24 num_batch=256``;
    empty when the bench has one setup."""
    if len(setups) <= 1:
        return ""
    varied = [option for option in OPTIONS if len({getattr(other, option) for other in setups}) > 1]
    return " ".join(f"{option}={getattr(setup, option)}" for option in varied)
