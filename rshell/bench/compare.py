"""Compare two stored bench runs metric by metric.

A change is flagged only when it is both large (more than 10 %) and beyond the noise (more than
two standard deviations, taking the larger spread of the two runs), so a noisy metric that
moved 12 % is not called a regression. The two runs' setups are compared too (ollama version,
num_ctx, keep_alive, prompts, and per model its digest, quantisation, loaded context length and
runner options): every difference is listed, and the rows of a model whose setup differs are
marked UNLIKE. Rows of a parameter matrix pair up only with the same setup's rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rshell.bench.metrics import METRICS
from rshell.events import Column, JSONValue, LinesView, Result, TableView

THRESHOLD_PERCENT = 10.0
THRESHOLD_STDEVS = 2.0

COMPARE_TABLE = TableView(
    "changes",
    (
        Column("model", "MODEL"),
        Column("test", "TEST"),
        Column("label", "METRIC"),
        Column("shown_a", "RUN A"),
        Column("shown_b", "RUN B"),
        Column("shown_delta", "CHANGE"),
        Column("flag", "FLAG"),
        Column("setup", "SETUP"),
    ),
    empty="(the two runs share no model and test)",
)


@dataclass(frozen=True)
class Summary:
    """Mean and standard deviation of one metric in one run."""

    mean: float
    stdev: float


@dataclass(frozen=True)
class MetricChange:
    """How one metric of one model and test moved from run A to run B."""

    model: str
    test: str
    metric: str
    before: Summary
    after: Summary

    @property
    def delta_percent(self) -> float | None:
        if self.before.mean == 0:
            return None
        return (self.after.mean - self.before.mean) / self.before.mean * 100.0

    @property
    def significant(self) -> bool:
        delta = self.delta_percent
        noise = THRESHOLD_STDEVS * max(self.before.stdev, self.after.stdev)
        return delta is not None and abs(delta) > THRESHOLD_PERCENT and abs(self.after.mean - self.before.mean) > noise

    @property
    def flag(self) -> str:
        if not self.significant:
            return ""
        higher_is_better = METRICS[self.metric][2]
        improved = (self.after.mean > self.before.mean) == higher_is_better
        return "better" if improved else "WORSE"

    def to_json(self) -> dict[str, JSONValue]:
        delta = self.delta_percent
        return {
            "model": self.model,
            "test": self.test,
            "metric": self.metric,
            "label": f"{METRICS[self.metric][0]} ({METRICS[self.metric][1]})",
            "a": {"mean": self.before.mean, "stdev": self.before.stdev},
            "b": {"mean": self.after.mean, "stdev": self.after.stdev},
            "delta_percent": delta,
            "significant": self.significant,
            "flag": self.flag,
            "shown_a": _shown(self.metric, self.before),
            "shown_b": _shown(self.metric, self.after),
            "shown_delta": f"{delta:+.1f}%" if delta is not None else "-",
        }


def compare_runs(run_a: Mapping[str, Any], run_b: Mapping[str, Any]) -> list[MetricChange]:
    """Every metric present in both runs for the same model and test."""
    before = dict(_summaries(run_a))
    return [
        MetricChange(key[0], key[1], key[2], before[key], after) for key, after in _summaries(run_b) if key in before
    ]


#: what a run's setup is: (label, where in the document); None where not recorded
RUN_SETUP: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ollama version", ("ollama_version",)),
    ("num_ctx", ("method", "num_ctx")),
    ("keep_alive", ("method", "keep_alive_s")),
    ("prompts", ("method", "prompt_source")),
)
MODEL_SETUP: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("digest", ("digest",)),
    ("quantisation", ("quantization_level",)),
    ("loaded context", ("context_length",)),
    ("num_gpu", ("setup", "num_gpu")),
    ("num_batch", ("setup", "num_batch")),
    ("num_thread", ("setup", "num_thread")),
)
SETUP_NOTES = LinesView("setup_notes")


@dataclass(frozen=True)
class SetupChange:
    """One way the two runs were set up differently; ``model`` None: the whole run."""

    what: str
    model: str | None
    before: JSONValue
    after: JSONValue

    def to_json(self) -> dict[str, JSONValue]:
        return {"what": self.what, "model": self.model, "a": self.before, "b": self.after}

    def note(self) -> str:
        where = f"{self.model} " if self.model else ""
        return f"setup differs: {where}{self.what} {_shown_value(self.before)} -> {_shown_value(self.after)}"


def setup_changes(run_a: Mapping[str, Any], run_b: Mapping[str, Any]) -> list[SetupChange]:
    """Every recorded setting that differs between the runs (a setting only one run recorded counts)."""
    changes = [
        SetupChange(label, None, _at(run_a, path), _at(run_b, path))
        for label, path in RUN_SETUP
        if _at(run_a, path) != _at(run_b, path)
    ]
    models_a = {_row_key(model): model for model in run_a.get("models") or [] if isinstance(model, Mapping)}
    for model in run_b.get("models") or []:
        before = models_a.get(_row_key(model)) if isinstance(model, Mapping) else None
        if before is None:
            continue
        changes += [
            SetupChange(label, _row_key(model), _at(before, path), _at(model, path))
            for label, path in MODEL_SETUP
            if _at(before, path) != _at(model, path)
        ]
    return changes


def _row_key(model: Mapping[str, Any]) -> str:
    """A model entry's name, with its matrix setup (``llama3.2:1b [num_gpu=24]``) when it has one:
    rows of a matrix are compared only with the same setup's rows."""
    setup = model.get("setup_label")
    return f"{model.get('name')} [{setup}]" if isinstance(setup, str) and setup else str(model.get("name"))


def compare_result(run_a: Mapping[str, Any], run_b: Mapping[str, Any]) -> Result:
    changes = compare_runs(run_a, run_b)
    setup = setup_changes(run_a, run_b)
    unlike_all = any(change.model is None for change in setup)
    unlike = {change.model for change in setup}
    rows: list[JSONValue] = [
        {**change.to_json(), "setup": "UNLIKE" if unlike_all or change.model in unlike else ""} for change in changes
    ]
    data: dict[str, JSONValue] = {
        "run_a": str(run_a.get("run_id")),
        "run_b": str(run_b.get("run_id")),
        "comparable": not setup,
        "setup_changes": [change.to_json() for change in setup],
        "setup_notes": [change.note() for change in setup],
        "changes": rows,
        "significant": sum(change.significant for change in changes),
    }
    return Result(data, COMPARE_TABLE, (SETUP_NOTES,))


def _at(document: Mapping[str, Any], path: tuple[str, ...]) -> JSONValue:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return _json(value)


def _json(value: Any) -> JSONValue:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _shown_value(value: JSONValue) -> str:
    if value is None:
        return "(not recorded)"
    text = str(value)
    return text[:12] if len(text) == 64 else text  # a digest: its first 12 characters, as `ollama ls` shows


def _summaries(document: Mapping[str, Any]) -> Iterator[tuple[tuple[str, str, str], Summary]]:
    for model in document.get("models") or []:
        for test in model.get("tests") or []:
            for metric in METRICS:
                stats = test.get(metric)
                if isinstance(stats, Mapping) and _is_number(stats.get("mean")) and _is_number(stats.get("stdev")):
                    key = (_row_key(model), str(test.get("test")), metric)
                    yield key, Summary(float(stats["mean"]), float(stats["stdev"]))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(metric: str, summary: Summary) -> str:
    if METRICS[metric][1] == "s":
        return f"{summary.mean * 1000:.0f} ± {summary.stdev * 1000:.0f} ms"
    return f"{summary.mean:.1f} ± {summary.stdev:.1f}"
