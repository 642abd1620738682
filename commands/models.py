"""``models``: the ollama models the policy lists for a target: installed (/api/tags) and loaded (/api/ps)."""

from __future__ import annotations

from collections.abc import Iterator

from rshell.events import Event, MessageView, Result, TableView
from rshell.models.actions import client_for, failures
from rshell.models.listing import COLUMNS, model_rows, table_row
from rshell.models.policy import TARGET, model_target
from rshell.render.human import render_view
from rshell.spec import Arguments, VerbSpec
from rshell.verb import Context, Verb


class Models(Verb):
    name = "models"
    summary = "the policy's ollama models on a target: installed (size, family, quantisation) and loaded (VRAM split)"
    description = "Targets and their models are the policy's bench targets (settings.bench.targets)."
    spec = VerbSpec(positionals=(TARGET,))

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        target = model_target(ctx, self.name, args.text("target"))
        client = client_for(ctx, target)
        with failures(self.name, target):
            tags, running = client.tags(), client.running()
        rows = model_rows(target.models, tags, running)
        shown = [table_row(row) for row in rows if isinstance(row, dict)]
        text = render_view(TableView("rows", COLUMNS, empty="the policy lists no models here"), {"rows": shown})
        yield Result({"target": target.name, "models": rows}, MessageView(text.rstrip("\n")))
