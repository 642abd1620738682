"""``stats``: CPU, memory, network and block I/O and PIDs of the visible containers, as ``docker stats``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rshell.containers.stats import sample, table_row
from rshell.errors import Denied, VerbFailed
from rshell.events import Column, Event, JSONValue, MessageView, Record, Result, TableView
from rshell.render.human import render_view
from rshell.spec import WATCH_OPTION, ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.targets import Target, container_name, visible_containers
from rshell.verb import Context, Verb

#: samples taken at once (each holds one engine connection for about a second)
PARALLEL_SAMPLES = 4
CONFLICT = 409
COLUMNS = (
    Column("name", "NAME"),
    Column("cpu", "CPU %"),
    Column("memory", "MEM USAGE / LIMIT"),
    Column("memory_percent", "MEM %"),
    Column("net", "NET I/O"),
    Column("block", "BLOCK I/O"),
    Column("pids", "PIDS"),
)


class Stats(Verb):
    name = "stats"
    summary = "CPU %, memory usage / limit, network and block I/O and PIDs of visible running containers"
    description = (
        "One sample by default (the engine measures CPU over about a second, as 'docker stats\n"
        "--no-stream' does); --watch SECONDS samples again until --count samples or Ctrl-C."
    )
    spec = VerbSpec(
        positionals=(
            Positional(
                "container",
                ArgKind.CONTAINER,
                "containers, shown in the order named (default: every visible running one)",
                optional=True,
                repeat=True,
            ),
        ),
        options=(
            WATCH_OPTION,
            Option(
                "--count",
                ArgKind.INTEGER,
                "with --watch, stop after N samples",
                minimum=1,
                maximum=100_000,
                value_name="N",
            ),
        ),
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        interval = args.integer("watch")
        if interval is None:
            rows = _sample_all(ctx, args)
            yield Result({"containers": rows}, MessageView(_table(rows)))
            return
        for number in itertools.count(1):
            _still_allowed(ctx)
            rows = _sample_all(ctx, args)
            table = _table(rows)  # a terminal draws each sample over the previous one; elsewhere one after another
            yield Record({"sample": number, "containers": rows}, table if number == 1 else f"\n{table}", frame=table)
            if number == args.integer("count") or ctx.cancel.wait(interval):
                return

    def streams(self, args: Arguments) -> bool:
        return args.integer("watch") is not None


def _still_allowed(ctx: Context) -> None:
    """A watch is decided again before every sample, on the policy in force now."""
    decision = ctx.still_allowed() if ctx.still_allowed is not None else None
    if decision is not None and not decision.allowed:
        raise Denied(f"stats: stopped: {decision.reason}")


def _sample_all(ctx: Context, args: Arguments) -> list[JSONValue]:
    named = [target for target in args.many("container") if isinstance(target, Target)]
    if named:  # in the order the user named them (the core resolved each once)
        chosen = [(target.id, target.name) for target in named]
    else:  # decided again each sample: a container that became hidden drops out of a watch
        rows = visible_containers(ctx.engine, ctx.view, include_stopped=False)
        chosen = sorted(((str(row["Id"]), container_name(row)) for row in rows), key=lambda pair: pair[1])
    api = ctx.engine.client.api
    with ThreadPoolExecutor(max_workers=PARALLEL_SAMPLES) as pool:
        samples = list(pool.map(lambda pair: _one(api, *pair), chosen))
    gone = [target.name for target, row in zip(named, samples, strict=False) if row is None]
    if gone:  # a container the user named is an answer they asked for: its absence is a failure
        raise VerbFailed(_gone_message(gone))
    return [row for row in samples if row is not None]  # one that stopped or went since the list was read is left out


def _gone_message(names: list[str]) -> str:
    if len(names) == 1:
        return f"{names[0]} stopped or was removed while it was being sampled"
    return f"{', '.join(names)} stopped or were removed while they were being sampled"


def _one(api: Any, container_id: str, name: str) -> dict[str, JSONValue] | None:
    from docker import errors as docker_errors  # noqa: PLC0415

    try:  # stream=False: the engine waits for a second reading, so precpu_stats is filled
        raw = api.stats(container_id, stream=False)
    except (docker_errors.NotFound, ValueError):  # removed, or stopped mid-sample (the engine sends no body)
        return None
    except docker_errors.APIError as error:
        if error.status_code == CONFLICT:  # being removed ("removal in progress")
            return None
        raise
    return sample(raw if isinstance(raw, dict) else {}, name, container_id)


def _table(rows: list[JSONValue]) -> str:
    shown = [table_row(row) for row in rows if isinstance(row, dict)]
    view = TableView("rows", COLUMNS, empty="no visible running containers")
    return render_view(view, {"rows": shown}).rstrip("\n")
