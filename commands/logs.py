"""``logs``: a container's output, capped by the policy and sanitised on the way to a terminal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from rshell.errors import Denied
from rshell.events import Event, JSONValue, LogLines, MessageView, Result
from rshell.policy.schema import Field, Kind
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.targets import Target
from rshell.verb import Context, Verb

DEFAULT_TAIL = 100
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
        stream = ctx.engine.client.api.logs(
            target.id,
            stream=True,
            follow=follow,
            tail=tail,
            timestamps=args.switch("timestamps"),
            since=int(time.time() - since) if since is not None else None,
        )
        count = 0
        for lines in split_lines(stream):
            if ctx.cancel.is_set():
                break
            count += len(lines)
            yield LogLines(lines)
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


def split_lines(chunks: Iterator[Any]) -> Iterator[tuple[str, ...]]:
    """Whole lines from a byte stream, decoded leniently (a container can print anything)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        if b"\n" not in pending:
            if len(pending) > MAX_LINE_BYTES:
                yield (pending.decode("utf-8", "replace"),)
                pending = b""
            continue
        complete, _, pending = pending.rpartition(b"\n")
        yield tuple(complete.decode("utf-8", "replace").split("\n"))
    if pending:
        yield (pending.decode("utf-8", "replace"),)
