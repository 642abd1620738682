"""``logs``: a container's output, capped by the policy and sanitised on the way to a terminal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from rshell.errors import Denied, Interrupted
from rshell.events import Event, JSONValue, LogLines, MessageView, Result
from rshell.logstream import open_logs
from rshell.policy.schema import Field, Kind
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.targets import Target
from rshell.verb import Context, Verb

DEFAULT_TAIL = 100
#: how much output a bounded (non-follow) read gathers into one event
BATCH_BYTES = 256 * 1024
#: a line longer than this is cut into pieces rather than held in memory
MAX_LINE_BYTES = 1 << 20


class Logs(Verb):
    name = "logs"
    summary = "show a container's recent output (capped by policy); --follow streams it"
    spec = VerbSpec(
        positionals=(Positional("container", ArgKind.CONTAINER, "container name or ID prefix"),),
        options=(
            Option("--tail", ArgKind.INTEGER, "number of lines from the end", minimum=1),
            Option("--since", ArgKind.DURATION, "only lines newer than this (30s, 10m, 2h)"),
            Option("--timestamps", ArgKind.SWITCH, "prefix each line with its time"),
            Option("--follow", ArgKind.SWITCH, "keep streaming until Ctrl-C or the container stops"),
        ),
    )
    settings = (Field("max_lines", Kind.INTEGER, "the most lines --tail may ask for", default=1000, minimum=1),)

    def streams(self, args: Arguments) -> bool:
        return args.switch("follow")

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        target = args.get("container")
        assert isinstance(target, Target)
        tail = _tail(args, ctx)
        since = args.seconds("since")
        follow = args.switch("follow")
        query = {"stdout": 1, "stderr": 1, "follow": int(follow), "tail": tail}
        query["timestamps"] = int(args.switch("timestamps"))
        if since is not None:
            query["since"] = int(time.time() - since)
        stream = open_logs(ctx.engine.client.api, target.id, query, tty=target.tty, cancel=ctx.cancel)
        count = 0
        try:
            for lines in split_lines(stream, batch_bytes=0 if follow else BATCH_BYTES):
                if ctx.cancel.is_set():
                    break
                count += len(lines)
                yield LogLines(lines)
        except Exception:
            if not ctx.cancel.is_set():
                raise  # a cancel shuts the stream down under the read; anything else is a real failure
        if ctx.cancel.is_set():
            raise Interrupted(f"logs {target.name}: cancelled")
        summary: dict[str, JSONValue] = {
            "container": target.name,
            "id": target.short_id,
            "line_count": count,
            "tail": tail,
        }
        yield Result({**summary, "end": True} if follow else summary, MessageView(""))


def _tail(args: Arguments, ctx: Context) -> int:
    cap = ctx.settings.get("max_lines")
    limit = cap if isinstance(cap, int) else 1000
    asked = args.integer("tail")
    if asked is None:
        return min(DEFAULT_TAIL, limit)
    if asked > limit:
        raise Denied(f"--tail {asked} is more than your policy allows ({limit} lines)")
    return asked


def split_lines(chunks: Iterator[Any], batch_bytes: int = 0) -> Iterator[tuple[str, ...]]:
    """Whole lines from a byte stream, decoded leniently (a container can print anything).

    The engine sends one frame per line; lines are gathered until ``batch_bytes`` have come, so a
    large tail travels in a few events instead of one per line (a follow keeps ``0``: as they come).
    A line longer than MAX_LINE_BYTES is cut rather than held in memory.
    """
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size < batch_bytes:
            continue
        pending = b"".join(parts)
        complete, newline, rest = pending.rpartition(b"\n")
        if newline:
            yield _decode_lines(complete)
        elif len(rest) > MAX_LINE_BYTES:
            yield (rest.decode("utf-8", "replace"),)
            rest = b""
        parts, size = ([rest], len(rest)) if rest else ([], 0)
    pending = b"".join(parts)
    if pending:
        yield _decode_lines(pending.removesuffix(b"\n"))


def _decode_lines(block: bytes) -> tuple[str, ...]:
    return tuple(block.decode("utf-8", "replace").split("\n"))
