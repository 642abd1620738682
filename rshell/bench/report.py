"""Turn what the runner measured into the bench's result: frozen summaries, JSON, human views."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rshell.bench.formats import formatted_lines
from rshell.bench.metrics import METRICS, RunSample, Stats, summarize
from rshell.bench.parallel import Round
from rshell.bench.runner import ModelRecord
from rshell.events import Column, FieldsView, JSONValue, LinesView, Result, TableView
from rshell.units import format_bytes

TABLE = TableView(
    "table",
    (
        Column("model", "MODEL"),
        Column("setup", "SETUP"),
        Column("test", "TEST"),
        Column("runs", "RUNS"),
        Column("rate", "TOK/S"),
        Column("median", "MEDIAN"),
        Column("aggregate", "ALL STREAMS"),
        Column("tokens", "TOKENS"),
        Column("ttft", "TTFT"),
        Column("e2e", "END-TO-END"),
        Column("short", "SHORT"),
        Column("excluded", "LEFT OUT"),
    ),
    empty="(no run finished)",
)
FIELDS = FieldsView(
    (
        Column("run_id", "run"),
        Column("target", "target"),
        Column("ollama_version", "ollama"),
        Column("gpu", "gpu"),
        Column("peak_vram", "peak VRAM"),
        Column("status", "status"),
    )
)
NOTES = LinesView("notes")
FORMATTED = LinesView("formatted")


@dataclass(frozen=True)
class WorkloadSummary:
    """One test of one model: its samples and their statistics."""

    name: str
    samples: tuple[RunSample, ...]
    #: every attempt that came back short (retried), and the runs that stayed short (left out)
    short: tuple[RunSample, ...] = ()
    excluded: int = 0
    #: --parallel: the concurrent rounds (empty for one stream)
    rounds: tuple[Round, ...] = ()

    def aggregate(self) -> tuple[Stats | None, str | None]:
        """The rate of all streams together over the rounds, and the clock it was measured on."""
        measured = [round_.aggregate(self.headline_metric == "prompt_tps") for round_ in self.rounds]
        values = [value for value, _ in measured if value is not None]
        clocks = sorted({clock for _, clock in measured})
        return Stats.of(values), ("+".join(clocks) or None)

    def stats(self, metric: str) -> Stats | None:
        return summarize(self.samples, metric)

    @property
    def headline_metric(self) -> str:
        return "prompt_tps" if self.name.startswith("pp") else "gen_tps"

    @property
    def stopped_short(self) -> int:
        return len(self.short)

    @property
    def tokens_mean(self) -> float | None:
        """The real size of the test: evaluated prompt tokens (pp), generated tokens (tg)."""
        if self.headline_metric == "prompt_tps":
            return _mean([sample.evaluated_prompt_tokens for sample in self.samples])
        return _mean([sample.eval_count for sample in self.samples])

    def _parallel_json(self) -> dict[str, JSONValue]:
        if not self.rounds:
            return {}
        stats, clock = self.aggregate()
        return {
            "streams": len(self.rounds[0].samples),
            "aggregate_tps": _stats_json(stats),
            "aggregate_clock": clock,
            "per_stream_tps": _stats_json(self.stats(self.headline_metric)),
        }

    def to_json(self) -> dict[str, JSONValue]:
        stats = {metric: _stats_json(self.stats(metric)) for metric in METRICS}
        return {
            "test": self.name,
            "runs": len(self.samples),
            "stopped_short": self.stopped_short,
            "excluded_runs": self.excluded,
            **self._parallel_json(),
            "short_runs": [sample.to_json() for sample in self.short],
            "prompt_tokens_mean": _mean([sample.evaluated_prompt_tokens for sample in self.samples]),
            "generated_tokens_mean": _mean([sample.eval_count for sample in self.samples]),
            **stats,
            "samples": [sample.to_json() for sample in self.samples],
        }


@dataclass(frozen=True)
class ModelSummary:
    """One model: what the server says about it, load times, and its tests."""

    name: str
    family: str | None
    parameter_size: str | None
    quantization_level: str | None
    cold_load_s: float | None
    size_bytes: int | None
    size_vram_bytes: int | None
    context_length: int | None
    tests: tuple[WorkloadSummary, ...]
    digest: str | None = None
    busy_retries: int = 0
    setup: dict[str, int | None] | None = None
    setup_label: str = ""
    unloaded: str | None = None

    @classmethod
    def from_record(cls, record: ModelRecord) -> ModelSummary:
        details, running = record.details, record.running
        return cls(
            name=record.name,
            family=_text(details.get("family")),
            parameter_size=_text(details.get("parameter_size")),
            quantization_level=_text(details.get("quantization_level")),
            cold_load_s=record.cold_load_s,
            size_bytes=_int(running.get("size")),
            size_vram_bytes=_int(running.get("size_vram")),
            context_length=_int(running.get("context_length")),
            tests=tuple(
                WorkloadSummary(
                    name,
                    tuple(samples),
                    tuple(record.short.get(name, ())),
                    record.excluded.get(name, 0),
                    tuple(record.rounds.get(name, ())),
                )
                for name, samples in record.samples.items()
                if samples or record.short.get(name)
            ),
            digest=_text(record.tag.get("digest")) or _text(running.get("digest")),
            busy_retries=record.busy_retries,
            setup=dict(record.setup_values),
            setup_label=record.setup_label,
            unloaded=record.unloaded,
        )

    def to_json(self) -> dict[str, JSONValue]:
        warm = Stats.of([sample.load_s for test in self.tests for sample in test.samples])
        return {
            "name": self.name,
            "family": self.family,
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
            "size_bytes": self.size_bytes,
            "size_vram_bytes": self.size_vram_bytes,
            "context_length": self.context_length,
            "digest": self.digest,
            "busy_retries": self.busy_retries,
            "setup": dict(self.setup or {}),
            "setup_label": self.setup_label,
            "unloaded_after": self.unloaded,
            "load": {"cold_s": self.cold_load_s, "warm_s": _stats_json(warm)},
            "tests": [test.to_json() for test in self.tests],
        }

    @property
    def key(self) -> str:
        """As ModelRecord.key: the model, with its matrix setup when it has one."""
        return f"{self.name} [{self.setup_label}]" if self.setup_label else self.name

    def note(self) -> str:
        described = " ".join(part for part in (self.family, self.parameter_size, self.quantization_level) if part)
        cold = f"cold load {self.cold_load_s:.2f} s" if self.cold_load_s is not None else "already loaded"
        vram = f", {format_bytes(self.size_vram_bytes)} in VRAM" if self.size_vram_bytes is not None else ""
        if self.size_vram_bytes is not None and self.size_bytes:
            vram += f" ({self.size_vram_bytes / self.size_bytes:.0%} of {format_bytes(self.size_bytes)})"
        where = f" [{self.setup_label}]" if self.setup_label else ""
        return f"{self.name}{where}: {described or 'details unknown'}; {cold}{vram}"

    def rows(self) -> list[dict[str, JSONValue]]:
        return [_row(self.name, self.setup_label, test) for test in self.tests]


def _row(model: str, setup: str, test: WorkloadSummary) -> dict[str, JSONValue]:
    rate, ttft, e2e = test.stats(test.headline_metric), test.stats("ttft_s"), test.stats("e2e_s")
    aggregate = test.aggregate()[0]
    return {
        "model": model,
        "setup": setup or "-",
        "test": test.name,
        "runs": str(len(test.samples)),
        "rate": f"{rate.mean:.1f} ± {rate.stdev:.1f}" if rate else "-",
        "median": f"{rate.median:.1f}" if rate else "-",
        "aggregate": f"{aggregate.mean:.1f} ± {aggregate.stdev:.1f}" if aggregate else "-",
        "tokens": f"{test.tokens_mean:.0f}" if test.tokens_mean is not None else "-",
        "ttft": format_seconds(ttft.mean) if ttft else "-",
        "e2e": format_seconds(e2e.mean) if e2e else "-",
        "short": str(test.stopped_short),
        "excluded": str(test.excluded),
    }


def format_seconds(seconds: float) -> str:
    """Milliseconds below a second (``85 ms``), seconds with two decimals above (``2.31 s``)."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def bench_result(data: dict[str, JSONValue], summaries: Sequence[ModelSummary], form: str = "table") -> Result:
    """The Result: ``data`` plus the rows and notes a human sees, or the lines of ``--format``."""
    rows: list[JSONValue] = [row for summary in summaries for row in summary.rows()]
    notes: list[JSONValue] = [summary.note() for summary in summaries]
    notes += [_vram_note(model) for model in _entries(data.get("models")) if model.get("peak_vram_bytes") is not None]
    notes += [
        f"{model.get('name')}: {model.get('unloaded_after')} before the next model"
        for model in _entries(data.get("models"))
        if model.get("unloaded_after")
    ]
    if form != "table":
        lines: list[JSONValue] = list(formatted_lines(data, rows, form))
        return Result({**data, "table": rows, "notes": notes, "formatted": lines}, FORMATTED)
    return Result({**data, "table": rows, "notes": notes}, TABLE, (FIELDS, NOTES))


def _entries(value: JSONValue) -> list[dict[str, JSONValue]]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _vram_note(model: dict[str, JSONValue]) -> str:
    """``llama3.2:1b: model peak VRAM 1.2 GiB (runner processes)``."""
    peak, label = model.get("peak_vram_bytes"), model.get("setup_label")
    where = f" [{label}]" if label else ""
    shown = format_bytes(peak) if isinstance(peak, int) else "-"
    return f"{model.get('name')}{where}: model peak VRAM {shown} ({model.get('vram_source')})"


def _stats_json(stats: Stats | None) -> JSONValue:
    return stats.to_json() if stats else None


def _mean(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
