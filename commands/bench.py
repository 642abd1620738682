"""``bench``: measure an ollama server's prompt and generation speed, keep and compare results."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from rshell.bench.method import DEFAULT_RUNS
from rshell.bench.policy import SETTINGS, normalize_model
from rshell.errors import UsageError
from rshell.events import Event
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.verb import Context, Verb

if TYPE_CHECKING:
    from rshell.bench.session import BenchRequest

HISTORY_LIMIT = 20


class Bench(Verb):
    name = "bench"
    summary = "benchmark a model on an ollama server (pp512 / tg128), list and compare past results"
    description = (
        "bench TARGET runs one warm-up, then --runs timed runs of each test: pp512 (about 512 prompt\n"
        "tokens) and tg128 (128 generated tokens), like llama.cpp's llama-bench. Rates come from the\n"
        "server's own counters; TTFT and end-to-end time are measured here. Results are kept:\n"
        "'bench history [--model M] [--limit N]' lists them, 'bench compare RUN_A RUN_B' compares two\n"
        "and flags changes over 10 % that also exceed two standard deviations."
    )
    spec = VerbSpec(
        positionals=(
            Positional("target", ArgKind.BENCH_TARGET, "a bench target from the policy, or 'history' or 'compare'"),
            Positional("run_a", ArgKind.TEXT, "compare: the earlier run id", optional=True, max_length=64),
            Positional("run_b", ArgKind.TEXT, "compare: the later run id", optional=True, max_length=64),
        ),
        options=(
            Option("--model", ArgKind.MODEL, "model to benchmark (repeatable)", repeatable=True, max_length=200),
            Option("--runs", ArgKind.INTEGER, "timed runs per test", default=DEFAULT_RUNS, minimum=1, maximum=100),
            Option("--test", ArgKind.CHOICE, "which test", default="all", choices=("pp512", "tg128", "all")),
            Option("--prompt-set", ArgKind.TEXT, "a prompt set named in the policy", max_length=128),
            Option("--prompt", ArgKind.TEXT, "your own prompt, if the policy allows it", max_length=16384),
            Option("--limit", ArgKind.INTEGER, "history: runs to list", default=HISTORY_LIMIT, minimum=1, maximum=1000),
        ),
    )
    settings = SETTINGS

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        word = args.text("target")
        if word == "history":
            yield self._history(ctx, args)
        elif word == "compare":
            yield self._compare(ctx, args)
        else:
            _no_run_ids(args, f"bench {word}")
            from rshell.bench.session import run_bench  # noqa: PLC0415 - the policy loads every verb's spec

            yield from run_bench(ctx, _request(word, args))

    def _history(self, ctx: Context, args: Arguments) -> Event:
        _no_run_ids(args, "bench history")
        models = args.texts("model")
        if len(models) > 1:
            raise UsageError("bench history: give at most one --model")
        model = normalize_model(models[0]) if models else None
        from rshell.bench.history import BenchHistory, history_result  # noqa: PLC0415

        entries = BenchHistory(ctx.state_dir).recent(model, args.integer("limit") or HISTORY_LIMIT)
        return history_result(entries)

    def _compare(self, ctx: Context, args: Arguments) -> Event:
        run_a, run_b = args.optional_text("run_a"), args.optional_text("run_b")
        if run_a is None or run_b is None:
            raise UsageError("bench compare: give two run ids (usage: bench compare RUN_A RUN_B)")
        from rshell.bench.compare import compare_result  # noqa: PLC0415
        from rshell.bench.history import BenchHistory  # noqa: PLC0415

        history = BenchHistory(ctx.state_dir)
        return compare_result(history.load(run_a), history.load(run_b))


def _request(target: str, args: Arguments) -> BenchRequest:
    from rshell.bench.session import BenchRequest  # noqa: PLC0415

    return BenchRequest(
        target=target,
        models=tuple(dict.fromkeys(args.texts("model"))),
        runs=args.integer("runs") or DEFAULT_RUNS,
        test=args.optional_text("test") or "all",
        prompt_set=args.optional_text("prompt_set"),
        prompt=args.optional_text("prompt"),
    )


def _no_run_ids(args: Arguments, what: str) -> None:
    extra = args.optional_text("run_a")
    if extra is not None:
        raise UsageError(f"{what}: unexpected argument {extra!r} (run ids go with 'bench compare')")
