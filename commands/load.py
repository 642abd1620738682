"""``load``: load (warm) an ollama model the policy allows on a target, for ``keep_alive`` seconds."""

from __future__ import annotations

from collections.abc import Iterator

from rshell.errors import VerbFailed
from rshell.events import Event, JSONValue, MessageView, Notice, Result
from rshell.models.actions import keep_alive_request
from rshell.models.policy import TARGET_AND_MODEL, model_target
from rshell.policy.schema import Field, Kind
from rshell.spec import Arguments, VerbSpec
from rshell.verb import Context, Verb


class Load(Verb):
    name = "load"
    summary = "load (warm) an allowed ollama model on a target, so the next request does not wait for it"
    changes_state = True
    spec = VerbSpec(positionals=TARGET_AND_MODEL)
    settings = (
        Field("keep_alive", Kind.DURATION, "how long ollama keeps the model loaded afterwards", default=300.0),
        Field("timeout", Kind.DURATION, "time allowed for the load", default=300.0),
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        target = model_target(ctx, self.name, args.text("target"))
        model = target.check_model(self.name, args.text("model"))
        keep_alive, timeout = _seconds(ctx, "keep_alive", 300.0), _seconds(ctx, "timeout", 300.0)
        yield Notice(f"loading {model} on {target.name} ...")
        started = ctx.clock()
        reason = keep_alive_request(ctx, self.name, target, model, keep_alive=keep_alive, timeout=timeout)
        if reason != "load":
            raise VerbFailed(f"load: {target.name!r} did not confirm loading {model} (done_reason {reason!r})")
        elapsed = round(ctx.clock() - started, 2)
        data: dict[str, JSONValue] = {
            "target": target.name,
            "model": model,
            "state": "loaded",
            "keep_alive_s": keep_alive,
            "seconds": elapsed,
        }
        yield Result(data, MessageView(f"{model} loaded on {target.name} after {elapsed}s (kept {keep_alive:g}s)"))


def _seconds(ctx: Context, key: str, default: float) -> float:
    value = ctx.settings.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
