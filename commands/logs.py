"""``logs``: a container's output, capped by the policy and sanitised on the way to a terminal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from rshell.authority.streamwatch import StreamWatch, stream_stop
from rshell.errors import Denied, Interrupted
from rshell.events import Event, JSONValue, LogLines, MessageView, Result
from rshell.logstream import open_logs
from rshell.policy.schema import Field, Kind
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.swarm.logs import TaskPrefixes, open_service_logs, prefixed
from rshell.swarm.targets import ServiceTarget
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
    description = (
        "A Swarm service's output comes from all its tasks, each line prefixed NAME.SLOT.TASK@NODE | . "
        "A name that is both a visible container and a visible service means the container; "
        "--service means the service."
    )
    spec = VerbSpec(
        positionals=(Positional("container", ArgKind.WORKLOAD, "container (or Swarm service) name or ID prefix"),),
        options=(
            Option("--tail", ArgKind.INTEGER, "number of lines from the end", minimum=1),
            Option("--since", ArgKind.DURATION, "only lines newer than this (30s, 10m, 2h)"),
            Option("--timestamps", ArgKind.SWITCH, "prefix each line with its time"),
            Option("--follow", ArgKind.SWITCH, "keep streaming until Ctrl-C or the container stops"),
            Option("--service", ArgKind.SWITCH, "the name is a Swarm service's (not a container's)"),
        ),
    )
    settings = (Field("max_lines", Kind.INTEGER, "the most lines --tail may ask for", default=1000, minimum=1),)

    def streams(self, args: Arguments) -> bool:
        return args.switch("follow")

    def holds_engine_stream(self, args: Arguments) -> bool:
        return args.switch("follow")

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        target = args.get("container")
        assert isinstance(target, (Target, ServiceTarget))
        tail = _tail(args, ctx)
        since = args.seconds("since")
        follow = args.switch("follow")
        query = {"stdout": 1, "stderr": 1, "follow": int(follow), "tail": tail}
        timestamps = args.switch("timestamps")
        query["timestamps"] = int(timestamps)
        if since is not None:
            query["since"] = int(time.time() - since)
        stop = stream_stop(ctx.cancel)  # the caller's cancel, or the watch when the policy no longer allows it
        if isinstance(target, ServiceTarget):
            stream = open_service_logs(ctx.engine, target, query, cancel=stop)
            prefixes = TaskPrefixes(ctx.engine, target)
        else:
            stream, prefixes = open_logs(ctx.engine.client.api, target.id, query, tty=target.tty, cancel=stop), None
        count = 0
        with StreamWatch(ctx.still_allowed if follow else None, stop) as watch:
            try:
                for lines in split_lines(stream, batch_bytes=0 if follow else BATCH_BYTES):
                    if stop.is_set():
                        break
                    count += len(lines)
                    yield LogLines(lines if prefixes is None else prefixed(lines, prefixes, timestamps=timestamps))
            except Exception:
                if not stop.is_set():
                    raise  # a stop shuts the stream down under the read; anything else is a real failure
        if watch.denied is not None:
            raise Denied(f"logs {target.name}: stopped: {watch.denied.reason}")
        if ctx.cancel.is_set():
            raise Interrupted(f"logs {target.name}: cancelled")
        summary: dict[str, JSONValue] = {
            "service" if prefixes is not None else "container": target.name,
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
