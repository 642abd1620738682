"""``unload``: unload an ollama model the policy allows on a target (keep_alive 0), to free its VRAM."""

from __future__ import annotations

from collections.abc import Iterator

from rshell.errors import VerbFailed
from rshell.events import Event, MessageView, Result
from rshell.models.actions import keep_alive_request
from rshell.models.policy import TARGET_AND_MODEL, model_target
from rshell.policy.schema import Field, Kind
from rshell.spec import Arguments, VerbSpec
from rshell.verb import Context, Verb


class Unload(Verb):
    name = "unload"
    summary = "unload an allowed ollama model from a target (keep_alive 0), freeing its VRAM"
    changes_state = True
    spec = VerbSpec(positionals=TARGET_AND_MODEL)
    settings = (Field("timeout", Kind.DURATION, "time allowed for the unload", default=30.0),)

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        target = model_target(ctx, self.name, args.text("target"))
        model = target.check_model(self.name, args.text("model"))
        value = ctx.settings.get("timeout")
        timeout = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 30.0
        reason = keep_alive_request(ctx, self.name, target, model, keep_alive=0, timeout=timeout)
        if reason != "unload":
            raise VerbFailed(f"unload: {target.name!r} did not confirm unloading {model} (done_reason {reason!r})")
        yield Result(
            {"target": target.name, "model": model, "state": "unloaded"},
            MessageView(f"{model} unloaded from {target.name}"),
        )
