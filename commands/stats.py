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
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
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
            Positional("container", ArgKind.CONTAINER, "one container (default: every visible running one)", True),
        ),
        options=(
            Option("--watch", ArgKind.INTEGER, "sample again every SECONDS seconds", minimum=1, maximum=3600),
            Option("--count", ArgKind.INTEGER, "with --watch, stop after N samples", minimum=1, maximum=100_000),
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
            yield Record({"sample": number, "containers": rows}, _table(rows) if number == 1 else f"\n{_table(rows)}")
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
    target = args.get("container")
    if isinstance(target, Target):
        chosen = [(target.id, target.name)]
    else:  # decided again each sample: a container that became hidden drops out of a watch
        rows = visible_containers(ctx.engine, ctx.view, include_stopped=False)
        chosen = sorted(((str(row["Id"]), container_name(row)) for row in rows), key=lambda pair: pair[1])
    api = ctx.engine.client.api
    with ThreadPoolExecutor(max_workers=PARALLEL_SAMPLES) as pool:
        samples = list(pool.map(lambda pair: _one(api, *pair), chosen))
    if isinstance(target, Target) and samples == [None]:
        raise VerbFailed(f"{target.name} stopped or was removed while it was being sampled")
    return [row for row in samples if row is not None]  # one that stopped or went since the list was read is left out


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
