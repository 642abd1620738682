"""Against a server with a true prompt and generation rate, bench reports the truth (within 0.3 %).

The server follows ollama's counters (tests/ollama_server.py cites each code path): eval_duration
covers eval_count - 1 decode steps, prompt_eval_count includes the cached BOS from v0.30 on, a
model may stop early, a stream may end without its final chunk. The naive rates are checked to
be off, so these tests would catch a bench that read the counters plainly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.bench.helpers import bench_settings, make_context, results_by_test, run_verb
from tests.ollama_server import FakeModel, FakeOllama

TRUE_PP, TRUE_TG = 1536.0, 48.0
#: generate calls: 0 warm-up, 1-3 pp512, 4-... tg128 (a short attempt is retried with a new call)
SHORT, NO_DONE = {4: 16}, {5: 10}


def bench(server: FakeOllama, tmp_path: Path, argv: list[str]) -> dict[str, Any]:
    outcome = run_verb(make_context(bench_settings(server.url), tmp_path), ["gpu1", *argv])
    assert outcome.error is None, outcome.error
    return results_by_test(outcome.data)


def relative_error(reported: float, truth: float) -> float:
    return abs(reported - truth) / truth


@pytest.mark.parametrize(
    ("version", "reports_cached"),
    [("0.6.2", False), ("0.30.1", False), ("0.31.0", True)],
    ids=["before-0.30-count-excludes-cache", "0.30-count-includes-cache", "cached-count-reported"],
)
def test_pp_and_tg_means_equal_the_true_rates_with_short_and_truncated_runs(
    tmp_path: Path, version: str, reports_cached: bool
) -> None:
    model = FakeModel("llama3.2:1b", prompt_rate=TRUE_PP, gen_rate=TRUE_TG)
    with FakeOllama([model], version=version, reports_cached=reports_cached, short=SHORT, no_done=NO_DONE) as server:
        tests = bench(server, tmp_path, ["--runs", "3", "--seed", "7"])
    pp, tg = tests["pp512"], tests["tg128"]
    assert relative_error(pp["prompt_tps"]["mean"], TRUE_PP) < 0.003
    assert relative_error(tg["gen_tps"]["mean"], TRUE_TG) < 0.003
    # exact, in fact: the server's durations are the truth rounded to the nanosecond
    assert relative_error(pp["prompt_tps"]["mean"], TRUE_PP) < 1e-6
    assert relative_error(tg["gen_tps"]["mean"], TRUE_TG) < 1e-6
    assert (tg["runs"], tg["stopped_short"], tg["excluded_runs"]) == (3, 2, 0)
    assert [run["done_reason"] for run in tg["short_runs"]] == ["stop", "no final chunk"]
    naive_tg = [run["generated_tokens"] / (run["generated_tokens"] - 1) * run["gen_tps"] for run in tg["samples"]]
    assert relative_error(sum(naive_tg) / 3, TRUE_TG) > 0.007  # 128/127: what reading eval_count plainly gives


def test_a_short_run_in_the_mean_would_not_bias_it_either(tmp_path: Path) -> None:
    """A 16-token run is still timed as 15 decode steps: kept or left out, the rate is the truth."""
    with FakeOllama([FakeModel("llama3.2:1b", gen_rate=TRUE_TG, stop_after=16)]) as server:
        tests = bench(server, tmp_path, ["--runs", "1", "--test", "tg128"])
    (short,) = tests["tg128"]["short_runs"][:1]
    assert short["generated_tokens"] == 16
    assert relative_error(short["gen_tps"], TRUE_TG) < 1e-6
    assert tests["tg128"]["excluded_runs"] == 1


def test_pp_counts_only_the_tokens_ollama_evaluated_from_v0_30(tmp_path: Path) -> None:
    model = FakeModel("llama3.2:1b", prompt_rate=TRUE_PP)
    with FakeOllama([model], version="0.30.1") as server:
        pp = bench(server, tmp_path, ["--runs", "2", "--test", "pp512", "--seed", "3"])["pp512"]
    run = pp["samples"][0]
    assert run["cached_tokens"] == 1
    assert run["prompt_tokens"] == run["evaluated_prompt_tokens"] + 1
    assert 500 <= pp["prompt_tokens_mean"] <= 520  # the real size, shown in the TOKENS column
    naive = run["prompt_tokens"] / (run["evaluated_prompt_tokens"] / run["prompt_tps"])
    assert naive > TRUE_PP * 1.0015  # counting the cached BOS as processed


def test_a_model_without_bos_has_nothing_cached_and_nothing_subtracted(tmp_path: Path) -> None:
    model = FakeModel("qwen3:4b", prompt_rate=TRUE_PP, add_bos=False)
    with FakeOllama([model], version="0.30.1") as server:
        settings = bench_settings(server.url, models=["qwen3:4b"])
        outcome = run_verb(make_context(settings, tmp_path), ["gpu1", "--runs", "2", "--test", "pp512"])
    pp = results_by_test(outcome.data, "qwen3:4b")["pp512"]
    assert [run["cached_tokens"] for run in pp["samples"]] == [0, 0]
    assert relative_error(pp["prompt_tps"]["mean"], TRUE_PP) < 1e-6
