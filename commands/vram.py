"""vram: GPU memory, load, temperature and power for AMD (sysfs) and NVIDIA (NVML), without privilege."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping

from rshell.errors import VerbFailed
from rshell.events import Event, JSONValue, MessageView, Record, Result
from rshell.gpu.config import GpuConfig, gpu_config, read_snapshot
from rshell.gpu.model import Snapshot
from rshell.gpu.text import snapshot_lines
from rshell.policy.schema import Field, Kind
from rshell.spec import ArgKind, Arguments, Option, VerbSpec
from rshell.verb import Context, Verb


class Vram(Verb):
    name = "vram"
    summary = "show GPU memory, load, temperature and power (AMD and NVIDIA)"
    description = (
        "Reads the amdgpu driver's sysfs files and NVIDIA's NVML library: no privileged program runs. "
        "Which sources are read, and where sysfs is, come from the policy."
    )
    spec = VerbSpec(
        options=(
            Option("--watch", ArgKind.INTEGER, "sample again every SECONDS seconds", minimum=1, maximum=3600),
            Option("--count", ArgKind.INTEGER, "with --watch, stop after N samples", minimum=1, maximum=100_000),
        )
    )
    settings = (
        Field("sysfs_root", Kind.PATH, "where sysfs is mounted (a test tree, or / in production)", default="/"),
        Field(
            "sources",
            Kind.LIST,
            "which GPU sources to read",
            items=Field("source", Kind.STRING, choices=("amd", "nvidia")),
            default=["amd", "nvidia"],
        ),
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        config = gpu_config(ctx.settings)
        interval = args.integer("watch")
        if interval is None:
            yield _result(_checked_snapshot(config), *loaded_models(ctx))
            return
        yield from _watch(ctx, config, interval, args.integer("count"))

    def streams(self, args: Arguments) -> bool:
        return args.integer("watch") is not None


def _watch(ctx: Context, config: GpuConfig, interval: int, count: int | None) -> Iterator[Event]:
    """One Record per sample until ``count`` samples, a cancel, or Ctrl-C (which the core handles)."""
    for sample in itertools.count(1):
        if ctx.cancel.is_set():
            return
        snapshot = _checked_snapshot(config)
        models, problems = loaded_models(ctx)
        block = "\n".join(text(snapshot, models, problems))
        data = {**document(snapshot, models, problems), "sample": sample}
        yield Record(data=data, text=block if sample == 1 else f"\n{block}")
        if sample == count or ctx.cancel.wait(interval):
            return


def _checked_snapshot(config: GpuConfig) -> Snapshot:
    snapshot = read_snapshot(config)
    if snapshot.all_failed:
        reasons = "; ".join(f"{source.source}: {source.message}" for source in snapshot.sources)
        raise VerbFailed(f"vram: every GPU source failed ({reasons})")
    return snapshot


def document(snapshot: Snapshot, models: list[JSONValue], problems: list[JSONValue]) -> dict[str, JSONValue]:
    """The JSON document: GPUs, sources, and the models each policy bench target has loaded."""
    return {**snapshot.document(), "models": models, "model_problems": problems}


def loaded_models(ctx: Context) -> tuple[list[JSONValue], list[JSONValue]]:
    """Models on the bench targets the policy gives this principal (none without a view or targets)."""
    targets = ctx.view.settings("bench").get("targets") if ctx.view is not None else None
    if not isinstance(targets, Mapping) or not targets:
        return [], []
    from rshell.ollama.running import running_models  # noqa: PLC0415 - http.client only when there are targets

    return running_models(targets)


def text(snapshot: Snapshot, models: list[JSONValue], problems: list[JSONValue]) -> list[str]:
    from rshell.ollama.running import model_lines  # noqa: PLC0415

    return [*snapshot_lines(snapshot), *model_lines(models, problems)]


def _result(snapshot: Snapshot, models: list[JSONValue], problems: list[JSONValue]) -> Result:
    first, *rest = text(snapshot, models, problems)
    data = document(snapshot, models, problems)
    return Result(data=data, view=MessageView(first), extra_views=tuple(map(MessageView, rest)))
