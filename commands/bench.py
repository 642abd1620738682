"""``bench``: measure an ollama server's prompt and generation speed, keep and compare results."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rshell.bench.formats import FORMATS
from rshell.bench.matrix import OPTIONS, parse_values
from rshell.bench.method import DEFAULT_RUNS
from rshell.bench.policy import SETTINGS, normalize_model
from rshell.errors import UsageError
from rshell.events import Event
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.verb import Context, Verb

if TYPE_CHECKING:
    from rshell.bench.session import BenchRequest

HISTORY_LIMIT = 20
MAX_SEED = (1 << 31) - 1
MAX_NUM_CTX = 1 << 20
MAX_SIZES = 8
SIZE = re.compile(r"[0-9]{1,7}")


class Bench(Verb):
    name = "bench"
    summary = "benchmark a model on an ollama server (pp512 / tg128), list and compare past results"
    description = (
        "bench TARGET runs one warm-up, then --runs timed runs of each test: pp512 (about 512 prompt\n"
        "tokens) and tg128 (128 generated tokens), like llama.cpp's llama-bench (--pp/--tg sweep sizes).\n"
        "Rates come from the server's own counters, corrected as llama-bench defines them (tg over the\n"
        "eval_count - 1 timed decode steps, pp over the evaluated, uncached tokens); short runs are\n"
        "retried up to 3 times, then left out. --seed makes the prompts repeatable. --depth N runs each\n"
        "test after N context tokens (pp512@d4096); --num-ctx/--num-gpu/--num-batch/--num-thread lists\n"
        "run every combination within policy as its own row; --parallel N sends N concurrent streams\n"
        "(per-stream and aggregate tok/s). Models are unloaded between models. Results are kept:\n"
        "'bench history [--model M] [--limit N]' lists them, 'bench compare RUN_A RUN_B' compares two,\n"
        "lists setup differences and flags changes over 10 % that also exceed two standard deviations."
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
            Option(
                "--seed",
                ArgKind.INTEGER,
                "derive every prompt from this seed (default: new, recorded)",
                minimum=0,
                maximum=MAX_SEED,
            ),
            Option(
                "--num-ctx", ArgKind.TEXT, "context sizes (default: prompt + generation + depth + 64)", max_length=64
            ),
            Option("--num-gpu", ArgKind.TEXT, "layers offloaded to the GPU, comma-separated", max_length=64),
            Option("--num-batch", ArgKind.TEXT, "prompt batch sizes, comma-separated", max_length=64),
            Option("--num-thread", ArgKind.TEXT, "CPU threads, comma-separated", max_length=64),
            Option("--pp", ArgKind.TEXT, "prompt sizes, comma-separated (default 512)", max_length=64),
            Option("--tg", ArgKind.TEXT, "generation sizes, comma-separated (default 128)", max_length=64),
            Option(
                "--depth", ArgKind.TEXT, "context tokens before each test, comma-separated (default 0)", max_length=64
            ),
            Option("--parallel", ArgKind.INTEGER, "concurrent streams per timed run", default=1, minimum=1, maximum=64),
            Option("--format", ArgKind.CHOICE, "how to show the result", default="table", choices=FORMATS),
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
        from rshell.bench.history import BenchHistory, HistoryScope, history_result  # noqa: PLC0415

        scope = HistoryScope.of(ctx.settings)  # only the caller's targets and models
        entries = BenchHistory(ctx.state_dir).recent(model, args.integer("limit") or HISTORY_LIMIT, scope)
        return history_result(entries, args.optional_text("format") or "table")

    def _compare(self, ctx: Context, args: Arguments) -> Event:
        run_a, run_b = args.optional_text("run_a"), args.optional_text("run_b")
        if run_a is None or run_b is None:
            raise UsageError("bench compare: give two run ids (usage: bench compare RUN_A RUN_B)")
        from rshell.bench.compare import compare_result  # noqa: PLC0415
        from rshell.bench.history import BenchHistory, HistoryScope  # noqa: PLC0415

        history, scope = BenchHistory(ctx.state_dir), HistoryScope.of(ctx.settings)
        return compare_result(history.load(run_a, scope), history.load(run_b, scope))


def _request(target: str, args: Arguments) -> BenchRequest:
    from rshell.bench.session import BenchRequest  # noqa: PLC0415

    return BenchRequest(
        target=target,
        models=tuple(dict.fromkeys(args.texts("model"))),
        runs=args.integer("runs") or DEFAULT_RUNS,
        test=args.optional_text("test") or "all",
        prompt_set=args.optional_text("prompt_set"),
        prompt=args.optional_text("prompt"),
        seed=args.integer("seed"),
        options={option: parse_values(args.optional_text(option), option) for option in OPTIONS},
        output_format=args.optional_text("format") or "table",
        parallel=args.integer("parallel") or 1,
        pp_sizes=_sizes(args.optional_text("pp"), "--pp"),
        tg_sizes=_sizes(args.optional_text("tg"), "--tg"),
        depths=_sizes(args.optional_text("depth"), "--depth", allow_zero=True),
    )


def _sizes(text: str | None, flag: str, *, allow_zero: bool = False) -> tuple[int, ...]:
    """``512,2048`` as (512, 2048): at most MAX_SIZES positive token counts (``--depth``: 0 too)."""
    if text is None:
        return ()
    parts = [part.strip() for part in text.split(",")]
    least = 0 if allow_zero else 1
    if not all(SIZE.fullmatch(part) and least <= int(part) <= MAX_NUM_CTX for part in parts) or len(parts) > MAX_SIZES:
        raise UsageError(f"bench: {flag} takes up to {MAX_SIZES} token counts like 512,2048 (got {text!r})")
    return tuple(dict.fromkeys(int(part) for part in parts))


def _no_run_ids(args: Arguments, what: str) -> None:
    extra = args.optional_text("run_a")
    if extra is not None:
        raise UsageError(f"{what}: unexpected argument {extra!r} (run ids go with 'bench compare')")
