"""vram: GPU memory, load, temperature and power for AMD (sysfs) and NVIDIA (NVML), without privilege."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from rshell.authority.streamwatch import StreamWatch, stream_stop
from rshell.errors import Denied, VerbFailed
from rshell.events import Event, JSONValue, MessageView, Record, Result
from rshell.gpu.bars import frame_lines
from rshell.gpu.config import GpuConfig, gpu_config, read_snapshot
from rshell.gpu.model import Snapshot
from rshell.gpu.ollamaps import model_line, processor
from rshell.gpu.text import snapshot_lines
from rshell.gpu.visibility import container_ids, restrict
from rshell.policy.schema import Field, Kind
from rshell.spec import WATCH_OPTION, ArgKind, Arguments, Option, VerbSpec
from rshell.verb import Context, Verb


class Vram(Verb):
    name = "vram"
    summary = "show GPU memory, load, temperature and power (AMD and NVIDIA)"
    requires = ("pynvml",)  # NVML's binding, for the nvidia source only
    requires_extra = "nvidia"
    description = (
        "Reads the amdgpu driver's sysfs files and NVIDIA's NVML library: no privileged program runs. "
        "Which sources are read, and where sysfs is, come from the policy. "
        "GPU processes are listed only for containers you may see; the rest are one 'other' sum."
    )
    spec = VerbSpec(
        options=(
            WATCH_OPTION,
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
        Field("proc_root", Kind.PATH, "where /proc is (a test tree, or /proc in production)", default="/proc"),
        Field("pci_ids", Kind.PATH, "the PCI ID database, for names (missing: IDs)", default="/usr/share/misc/pci.ids"),
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        config = gpu_config(ctx.settings)
        interval = args.integer("watch")
        if interval is None:
            yield _result(_checked_snapshot(ctx, config), *loaded_models(ctx))
            return
        yield from _watch(ctx, config, interval, args.integer("count"))

    def streams(self, args: Arguments) -> bool:
        return args.integer("watch") is not None

    def required_modules(self, settings: Mapping[str, object]) -> tuple[str, ...]:
        return self.requires if "nvidia" in gpu_config(settings).sources else ()


def _watch(ctx: Context, config: GpuConfig, interval: int, count: int | None) -> Iterator[Event]:
    """One Record per sample until ``count`` samples, a cancel, or Ctrl-C (which the core handles).

    The watch is decided again every few seconds on the policy in force (rshell/authority/streamwatch.py): a
    role that loses ``vram`` ends it with 126 and one line, as a follow ends.
    """
    stop = stream_stop(ctx.cancel)
    with StreamWatch(ctx.still_allowed, stop) as watch:
        for sample in itertools.count(1):
            if stop.is_set():
                break
            snapshot = _checked_snapshot(ctx, config)
            models, problems = loaded_models(ctx)
            block = "\n".join(text(snapshot, models, problems))
            data = {**document(snapshot, models, problems), "sample": sample}
            frame = "\n".join([*frame_lines(snapshot, models), *(f"models: {problem}" for problem in problems)])
            if stop.is_set():  # revoked while this sample was read: it is not shown
                break
            yield Record(data=data, text=block if sample == 1 else f"\n{block}", frame=frame)
            if sample == count or stop.wait(interval):
                break
    if watch.denied is not None:
        raise Denied(f"vram: stopped: {watch.denied.reason}")


def _checked_snapshot(ctx: Context, config: GpuConfig) -> Snapshot:
    """One reading, restricted to what this principal may see before anything else touches it."""
    snapshot = read_snapshot(config)
    if snapshot.all_failed:
        reasons = "; ".join(f"{source.source}: {source.message}" for source in snapshot.sources)
        raise VerbFailed(f"vram: every GPU source failed ({reasons})")
    return restrict(snapshot, _visible_names(ctx, container_ids(snapshot)))


def _visible_names(ctx: Context, wanted: set[str]) -> dict[str, str]:
    """ID → name of the containers among ``wanted`` the policy view shows (none without view or engine)."""
    if not wanted or ctx.view is None or ctx.engine is None:
        return {}
    from rshell.targets import container_name, visible_containers  # noqa: PLC0415 - docker only when needed

    try:
        rows = visible_containers(ctx.engine, ctx.view, include_stopped=False)
    except Exception:  # an engine that cannot answer shows nobody's processes: not an error
        return {}
    return {str(row["Id"]): container_name(row) for row in rows if str(row.get("Id")) in wanted}


def document(snapshot: Snapshot, models: list[JSONValue], problems: list[JSONValue]) -> dict[str, JSONValue]:
    """The JSON document: GPUs, sources, and the models each policy bench target has loaded."""
    shown = [_with_processor(model) for model in models]
    return {**snapshot.document(), "models": shown, "model_problems": problems}


def _with_processor(model: JSONValue) -> JSONValue:
    """The model with ``processor``, ollama ps's CPU/GPU split, beside the raw byte counts."""
    if not isinstance(model, Mapping):
        return model
    size, vram = model.get("size_bytes"), model.get("size_vram_bytes")
    split = processor(size if isinstance(size, int) else None, vram if isinstance(vram, int) else None)
    return {**model, "processor": split}


def loaded_models(ctx: Context) -> tuple[list[JSONValue], list[JSONValue]]:
    """Models on the bench targets the policy gives this principal (none without a view or targets)."""
    targets = ctx.view.settings("bench").get("targets") if ctx.view is not None else None
    if not isinstance(targets, Mapping) or not targets:
        return [], []
    from rshell.ollama.running import running_models  # noqa: PLC0415 - http.client only when there are targets

    return running_models(targets, ctx.cancel)


def text(snapshot: Snapshot, models: list[JSONValue], problems: list[JSONValue]) -> list[str]:
    """The GPU lines, then one line per loaded model as ``ollama ps`` shows it, then who did not answer."""
    now = datetime.now(UTC)
    shown = [model_line(model, now) for model in models if isinstance(model, Mapping)]
    return [*snapshot_lines(snapshot), *shown, *(f"models: {problem}" for problem in problems)]


def _result(snapshot: Snapshot, models: list[JSONValue], problems: list[JSONValue]) -> Result:
    first, *rest = text(snapshot, models, problems)
    data = document(snapshot, models, problems)
    return Result(data=data, view=MessageView(first), extra_views=tuple(map(MessageView, rest)))
