"""One ``bench TARGET``: decide, lock the target, run, store the result; keep partial results.

Order matters: the policy decides (target, models, prompts) before anything is sent; the
server is asked which models it has only after that. Whatever was measured before a failure,
a timeout, Ctrl-C or a cancel is stored marked partial and shown before the error.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from rshell.authority.streamwatch import StreamWatch, stream_stop
from rshell.bench.history import BenchHistory
from rshell.bench.lock import target_lock
from rshell.bench.matrix import Setup, expand
from rshell.bench.method import MAX_RETRIES, WARMUP_RUNS, BenchPlan, default_num_ctx, workloads
from rshell.bench.policy import TargetPolicy, is_cloud_model, normalize_model, target_policy
from rshell.bench.prompts import short_prompt_tokens
from rshell.bench.report import ModelSummary, bench_result
from rshell.bench.runner import BenchCancelled, BenchRunner, RemoteModel
from rshell.bench.vram import VramReading, model_vram, sample_vram
from rshell.errors import Denied, Interrupted, RshellError, UsageError, VerbFailed
from rshell.events import Event, JSONValue, Notice
from rshell.ollama import OllamaClient, OllamaError, RequestCancelled
from rshell.units import format_bytes
from rshell.verb import Context

T = TypeVar("T")
#: the most one metadata call of a bench may take, in total (less when run_timeout is shorter)
METADATA_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class BenchRequest:
    """What the user asked for, before the policy has had its say."""

    target: str
    models: tuple[str, ...]
    runs: int
    test: str
    prompt_set: str | None
    prompt: str | None
    seed: int | None = None
    #: runner option -> the values asked for (rshell.bench.matrix)
    options: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    output_format: str = "table"
    pp_sizes: tuple[int, ...] = ()
    tg_sizes: tuple[int, ...] = ()
    depths: tuple[int, ...] = ()
    parallel: int = 1


@dataclass(frozen=True)
class BenchRun:
    """One bench as it is recorded: the plan, where it ran, and when."""

    plan: BenchPlan
    target: str
    ollama_version: str
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    run_id: str = field(
        default_factory=lambda: time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{secrets.token_hex(3)}"
    )

    def document(
        self, summaries: list[ModelSummary], reading: VramReading, failure: RshellError | None
    ) -> dict[str, JSONValue]:
        """The ``--json`` document of this bench (also what the history stores)."""
        peak = reading.peak_used_bytes
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "target": self.target,
            "partial": failure is not None,
            "partial_reason": failure.message if failure is not None else None,
            "status": f"partial: {failure.message}" if failure is not None else "complete",
            "ollama_version": self.ollama_version,
            "method": {
                "warmup_runs": WARMUP_RUNS,
                "runs": self.plan.runs,
                "tests": [test.name for test in self.plan.tests],
                "raw": True,
                "temperature": 0,
                "seed": self.plan.seed,
                "num_ctx": self.plan.shared_num_ctx,
                "matrix": [setup.to_json(self.plan.num_ctx) for setup in self.plan.setups],
                "keep_alive_s": self.plan.keep_alive,
                "max_retries": MAX_RETRIES,
                "parallel": self.plan.parallel,
                "prompt_source": self.plan.prompt_source,
                "prompt_cache": "defeated: every prompt differs from the previous one right after BOS",
                "rates": "pp: evaluated prompt tokens / prompt_eval_duration; tg: (eval_count - 1) / eval_duration",
            },
            "gpus": {
                "names": list(reading.gpu_names),
                "peak_vram_bytes": peak,
                "peak_vram_scope": "every GPU, all processes",
                "problem": reading.problem,
            },
            "gpu": ", ".join(reading.gpu_names) or "-",
            "peak_vram": format_bytes(peak) if peak is not None else "-",
            "models": [{**summary.to_json(), **model_vram(reading, summary.key)} for summary in summaries],
        }


def run_bench(ctx: Context, request: BenchRequest) -> Iterator[Event]:
    target = target_policy(ctx.settings, request.target)
    for model in request.models:
        target.check_model(model)
    prompts, source = target.choose_prompts(request.prompt_set, request.prompt)
    setups = expand(dict(request.options), target.option_caps, target.max_matrix, target.name) or (Setup(),)
    target.check_depths(request.depths)
    target.check_parallel(request.parallel)
    if request.parallel > 1 and any(request.depths):
        # each stream's context must stay in its own cache slot; with fewer slots than streams
        # (OLLAMA_NUM_PARALLEL) ollama would evaluate it again inside the timed prompt
        raise UsageError("bench: --depth and --parallel cannot be combined")
    seed = request.seed if request.seed is not None else secrets.randbelow(1 << 31)
    stop = stream_stop(ctx.cancel)  # the caller's cancel, or the watch once the policy no longer allows it
    # every ollama call below ends by total_deadline; the lock is released however the bench ends
    with target_lock(ctx.state_dir, target.name), StreamWatch(ctx.still_allowed, stop) as watch:
        total_deadline = time.monotonic() + target.total_timeout
        client = OllamaClient(target.url, timeout=metadata_timeout(target), cancel=stop, deadline=total_deadline)
        version, present = _ask(target, client.version, watch), _ask(target, client.tags, watch)
        tests = workloads(
            request.test,
            target.max_prompt_tokens,
            target.max_tokens,
            request.pp_sizes,
            request.tg_sizes,
            depths=request.depths,
        )
        models = resolve_models(target, request.models, [str(entry.get("name")) for entry in present])
        plan = BenchPlan(
            models,
            tests,
            request.runs,
            prompts,
            source,
            target.run_timeout,
            target.total_timeout,
            seed=seed,
            num_ctx=min(default_num_ctx(tests, short_prompt_tokens(prompts)), target.max_num_ctx),
            setups=setups,
            parallel=request.parallel,
            keep_alive=target.keep_alive,
            load_timeout=target.load_timeout,
            server_version=version,
        )
        contexts = ", ".join(str(size) for size in dict.fromkeys(setup.num_ctx or plan.num_ctx for setup in setups))
        shown = f"tests {', '.join(t.name for t in tests)}; num_ctx {contexts}; seed {seed}"
        if len(setups) > 1:
            shown += f"; {len(setups)} setups"
        if request.parallel > 1:
            shown += f"; {request.parallel} concurrent streams"
        yield Notice(f"bench {target.name}: {', '.join(models)}; {shown}")
        runner = BenchRunner(client, plan, stop, ctx.clock, total_deadline=total_deadline, tags=present)
        yield from _measure(ctx, runner, BenchRun(plan, target.name, version), request.output_format, watch)


def metadata_timeout(target: TargetPolicy) -> float:
    """The total time one metadata call (version, tags, show, ps) may take: run_timeout, at most
    METADATA_TIMEOUT_SECONDS (these answer from memory; generation gets the whole run_timeout)."""
    return min(target.run_timeout, METADATA_TIMEOUT_SECONDS)


def _measure(ctx: Context, runner: BenchRunner, bench: BenchRun, form: str, watch: StreamWatch) -> Iterator[Event]:
    failure: RshellError | None = None
    reading = VramReading()
    try:
        with sample_vram(ctx.view.settings("vram")) as reading:
            runner.on_phase, runner.on_sample = reading.mark, reading.sample
            yield from runner.run()
    except KeyboardInterrupt:
        failure = Interrupted(f"bench {bench.target}: interrupted")
    except (BenchCancelled, RequestCancelled):
        failure = _stopped(bench.target, watch)
    except RemoteModel as error:
        failure = Denied(f"bench {bench.target}: {error}")
    except OllamaError as error:
        failure = VerbFailed(f"bench {bench.target}: {error}")
    except GeneratorExit:
        with contextlib.suppress(RshellError):
            _keep(ctx, bench, runner, reading, Interrupted("closed by the caller before the bench finished"))
        raise
    document = _keep(ctx, bench, runner, reading, failure)
    if document is None and failure is not None:
        raise failure
    if reading.problem:
        yield Notice(reading.problem)
    if document is not None:
        yield bench_result(document, [ModelSummary.from_record(record) for record in runner.models], form)
    if failure is not None:
        raise type(failure)(f"{failure.message} (partial results kept as run {bench.run_id})")


def _keep(
    ctx: Context, bench: BenchRun, runner: BenchRunner, reading: VramReading, failure: RshellError | None
) -> dict[str, JSONValue] | None:
    """Store the result in the history; None (nothing stored) when a failure left no measurement."""
    summaries = [ModelSummary.from_record(record) for record in runner.models]
    if failure is not None and not any(summary.tests for summary in summaries):
        return None
    document = bench.document(summaries, reading, failure)
    BenchHistory(ctx.state_dir).save(document)
    return document


def resolve_models(target: TargetPolicy, requested: tuple[str, ...], present: list[str]) -> tuple[str, ...]:
    """The server's names for the requested models (or every allowed model it has)."""
    by_normal = {normalize_model(name): name for name in present if not is_cloud_model(name)}
    allowed = [name for name in target.local_models if normalize_model(name) in by_normal]
    wanted = requested or tuple(allowed)
    missing = [model for model in wanted if normalize_model(model) not in by_normal]
    if missing or not wanted:
        what = f"model {missing[0]!r} is not on" if missing else "none of the allowed models is on"
        raise VerbFailed(
            f"bench: {what} target {target.name!r} (allowed: {', '.join(target.local_models) or 'none'};"
            f" allowed and present: {', '.join(allowed) or 'none'})"
        )
    return tuple(dict.fromkeys(by_normal[normalize_model(model)] for model in wanted))


def _stopped(target: str, watch: StreamWatch) -> RshellError:
    """Why a bench stopped early: its role lost ``bench`` or the target (126), or the caller cancelled."""
    if watch.denied is not None:
        return Denied(f"bench {target}: stopped: {watch.denied.reason}")
    return Interrupted(f"bench {target}: cancelled")


def _ask(target: TargetPolicy, call: Callable[[], T], watch: StreamWatch) -> T:
    """One metadata call; a server that is down or answers badly is a one-line failure."""
    try:
        return call()
    except RequestCancelled:
        raise _stopped(target.name, watch) from None
    except OllamaError as error:
        raise VerbFailed(f"bench {target.name}: {error}") from None
