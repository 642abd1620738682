"""Compare two stored bench runs metric by metric.

A change is flagged only when it is both large (more than 10 %) and beyond the noise (more than
two standard deviations, taking the larger spread of the two runs), so a noisy metric that
moved 12 % is not called a regression.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rshell.bench.metrics import METRICS
from rshell.events import Column, JSONValue, Result, TableView

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


def compare_result(run_a: Mapping[str, Any], run_b: Mapping[str, Any]) -> Result:
    changes = compare_runs(run_a, run_b)
    rows: list[JSONValue] = [change.to_json() for change in changes]
    data: dict[str, JSONValue] = {
        "run_a": str(run_a.get("run_id")),
        "run_b": str(run_b.get("run_id")),
        "changes": rows,
        "significant": sum(change.significant for change in changes),
    }
    return Result(data, COMPARE_TABLE)


def _summaries(document: Mapping[str, Any]) -> Iterator[tuple[tuple[str, str, str], Summary]]:
    for model in document.get("models") or []:
        for test in model.get("tests") or []:
            for metric in METRICS:
                stats = test.get(metric)
                if isinstance(stats, Mapping) and _is_number(stats.get("mean")) and _is_number(stats.get("stdev")):
                    key = (str(model.get("name")), str(test.get("test")), metric)
                    yield key, Summary(float(stats["mean"]), float(stats["stdev"]))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(metric: str, summary: Summary) -> str:
    if METRICS[metric][1] == "s":
        return f"{summary.mean * 1000:.0f} ± {summary.stdev * 1000:.0f} ms"
    return f"{summary.mean:.1f} ± {summary.stdev:.1f}"
