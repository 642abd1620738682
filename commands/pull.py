"""``pull``: pull an ollama model the policy allows on a target, with progress, up to a size cap."""

from __future__ import annotations

from collections.abc import Iterator

from rshell.events import Event, JSONValue, MessageView, Notice, Result
from rshell.models.actions import pull_progress
from rshell.models.policy import TARGET_AND_MODEL, model_target
from rshell.policy.schema import Field, Kind
from rshell.spec import Arguments, VerbSpec
from rshell.units import format_bytes
from rshell.verb import Context, Verb

DEFAULT_MAX_SIZE = 20 << 30


class Pull(Verb):
    name = "pull"
    summary = "pull an allowed ollama model onto a target (progress bar; stopped past the policy's size cap)"
    changes_state = True
    spec = VerbSpec(positionals=TARGET_AND_MODEL)
    settings = (
        Field(
            "max_size", Kind.SIZE, "the largest total a pull may download (its layers summed)", default=DEFAULT_MAX_SIZE
        ),
        Field("timeout", Kind.DURATION, "time allowed for the whole pull", default=3600.0),
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        target = model_target(ctx, self.name, args.text("target"))
        model = target.check_model(self.name, args.text("model"))
        cap, timeout = ctx.settings.get("max_size"), ctx.settings.get("timeout")
        max_bytes = cap if isinstance(cap, int) and not isinstance(cap, bool) else DEFAULT_MAX_SIZE
        seconds = float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) else 3600.0
        yield Notice(f"pulling {model} onto {target.name} ...")
        started = ctx.clock()
        size = yield from pull_progress(ctx, target, model, max_bytes=max_bytes, timeout=seconds)
        elapsed = round(ctx.clock() - started, 2)
        data: dict[str, JSONValue] = {
            "target": target.name,
            "model": model,
            "status": "success",
            "size_bytes": size,
            "seconds": elapsed,
        }
        text = f"{model} pulled onto {target.name}: {format_bytes(size)} in {elapsed}s"
        yield Result(data, MessageView(text))
