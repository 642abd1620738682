"""``bench history`` and ``bench compare``: results survive the process and changes are flagged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rshell.bench.compare import compare_runs
from rshell.errors import VerbFailed
from rshell.verb import Context
from tests.bench.helpers import bench_settings, human_text, make_context, run_verb
from tests.ollama_server import FakeModel, FakeOllama


def reader(state_dir: Path) -> Context:
    """A caller whose role may see every run these tests make: target gpu1, both models."""
    return make_context(bench_settings("http://127.0.0.1:1", models=["llama3.2:1b", "qwen3:4b"]), state_dir)


def bench_once(server: FakeOllama, tmp_path: Path, models: list[str] | None = None) -> str:
    settings = bench_settings(server.url, models=models or ["llama3.2:1b"])
    outcome = run_verb(make_context(settings, tmp_path), ["gpu1", "--runs", "2", "--test", "tg128"])
    assert outcome.error is None
    return str(outcome.data["run_id"])


def test_history_lists_stored_runs_newest_first(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b"), FakeModel("qwen3:4b")]) as server:
        first = bench_once(server, tmp_path)
        second = bench_once(server, tmp_path, ["qwen3:4b"])
    outcome = run_verb(reader(tmp_path), ["history"])
    runs = outcome.data["runs"]
    assert [run["run_id"] for run in runs] == [second, first]
    assert runs[1]["headline"] == "llama3.2:1b tg128 64.0 tok/s"
    assert runs[1]["status"] == "complete"
    assert f"{first}  " in human_text(outcome.result)


def test_history_filters_by_model_and_limits(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b"), FakeModel("qwen3:4b")]) as server:
        first = bench_once(server, tmp_path)
        bench_once(server, tmp_path, ["qwen3:4b"])
        third = bench_once(server, tmp_path)
    ctx = reader(tmp_path)
    assert [run["run_id"] for run in run_verb(ctx, ["history", "--model", "llama3.2:1b"]).data["runs"]] == [
        third,
        first,
    ]
    assert [run["run_id"] for run in run_verb(ctx, ["history", "--limit", "1"]).data["runs"]] == [third]


def test_history_without_any_run_is_empty(tmp_path: Path) -> None:
    outcome = run_verb(reader(tmp_path / "missing"), ["history"])
    assert outcome.data["runs"] == []
    assert human_text(outcome.result) == "(no bench runs recorded)"


def test_compare_flags_a_real_slowdown_of_generation(tmp_path: Path) -> None:
    model = FakeModel("llama3.2:1b", gen_rate=64.0)
    with FakeOllama([model]) as server:
        before = bench_once(server, tmp_path)
        model.gen_rate = 48.0
        after = bench_once(server, tmp_path)
    outcome = run_verb(reader(tmp_path), ["compare", before, after])
    change = next(row for row in outcome.data["changes"] if row["metric"] == "gen_tps")
    assert change["delta_percent"] == pytest.approx(-25.0)
    assert (change["significant"], change["flag"]) == (True, "WORSE")
    assert "64.0 ± 0.0  48.0 ± 0.0  -25.0%  WORSE" in human_text(outcome.result)


def test_compare_of_an_unknown_run_names_it(tmp_path: Path) -> None:
    outcome = run_verb(reader(tmp_path), ["compare", "20990101-000000-abcdef", "x"])
    assert isinstance(outcome.error, VerbFailed)
    assert "no recorded run '20990101-000000-abcdef'" in outcome.error.message


def document(mean: float, stdev: float) -> dict[str, Any]:
    stats = {"mean": mean, "stdev": stdev}
    return {"run_id": "r", "models": [{"name": "m:1b", "tests": [{"test": "tg128", "gen_tps": stats}]}]}


@pytest.mark.parametrize(
    ("before", "after", "significant", "flag"),
    [
        ((100.0, 1.0), (115.0, 1.0), True, "better"),
        ((100.0, 1.0), (85.0, 1.0), True, "WORSE"),
        ((100.0, 1.0), (108.0, 1.0), False, ""),
        ((100.0, 8.0), (112.0, 1.0), False, ""),
        ((100.0, 5.0), (112.0, 5.0), True, "better"),
    ],
)
def test_a_change_is_flagged_only_when_over_10_percent_and_over_two_stdevs(
    before: tuple[float, float], after: tuple[float, float], significant: bool, flag: str
) -> None:
    [change] = compare_runs(document(*before), document(*after))
    assert (change.significant, change.flag) == (significant, flag)


def test_for_latency_a_drop_is_the_improvement() -> None:
    def latency(mean: float) -> dict[str, Any]:
        return {"models": [{"name": "m:1b", "tests": [{"test": "tg128", "ttft_s": {"mean": mean, "stdev": 0.0}}]}]}

    [change] = compare_runs(latency(0.5), latency(0.25))
    assert (change.delta_percent, change.flag) == (-50.0, "better")
