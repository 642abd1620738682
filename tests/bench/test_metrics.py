"""The arithmetic of one run and of the statistics over runs, checked exactly."""

from __future__ import annotations

import math

import pytest

from rshell.bench.metrics import RunSample, Stats, summarize

FINAL = {
    "done": True,
    "done_reason": "length",
    "total_duration": 3_000_000_000,
    "load_duration": 250_000_000,
    "prompt_eval_count": 512,
    "prompt_eval_duration": 500_000_000,
    "eval_count": 128,
    "eval_duration": 2_000_000_000,
}


def sample(**changes: object) -> RunSample:
    return RunSample.from_final({**FINAL, **changes}, ttft_s=0.6, e2e_s=3.1, requested=128)


def test_generation_rate_counts_the_decode_steps_eval_duration_covers() -> None:
    """ollama starts the clock when the first token is sampled: 2 s cover 127 of 128 tokens."""
    assert sample().gen_tps == 127 / 2.0
    assert sample(eval_count=1, eval_duration=0).gen_tps is None


def test_prompt_rate_is_prompt_tokens_over_prompt_duration() -> None:
    assert sample().prompt_tps == 1024.0


def test_cached_prompt_tokens_are_not_counted_as_processed() -> None:
    cached = sample(prompt_eval_cached_count=256)
    assert cached.evaluated_prompt_tokens == 256
    assert cached.prompt_tps == 512.0


def test_a_fully_cached_prompt_has_no_prompt_rate() -> None:
    assert sample(prompt_eval_cached_count=512).prompt_tps is None


def test_missing_counters_count_as_zero_and_give_no_rate() -> None:
    partial = RunSample.from_final({"done": True}, ttft_s=0.1, e2e_s=0.2, requested=128)
    assert (partial.gen_tps, partial.prompt_tps, partial.load_s, partial.done_reason) == (None, None, 0.0, "unknown")


def test_load_time_is_reported_in_seconds() -> None:
    assert sample().load_s == 0.25


@pytest.mark.parametrize(
    ("done_reason", "eval_count", "short"),
    [("length", 128, False), ("stop", 40, True), ("stop", 128, False), ("length", 40, False)],
)
def test_a_run_stopped_short_when_the_model_ended_before_the_tokens_asked_for(
    done_reason: str, eval_count: int, short: bool
) -> None:
    assert sample(done_reason=done_reason, eval_count=eval_count).stopped_short is short


def test_statistics_use_the_sample_standard_deviation_like_llama_bench() -> None:
    stats = Stats.of([60.0, 62.0, 64.0, 66.0, 68.0])
    assert stats is not None
    assert (stats.n, stats.mean, stats.median, stats.minimum, stats.maximum) == (5, 64.0, 64.0, 60.0, 68.0)
    assert math.isclose(stats.stdev, math.sqrt(40 / 4))


def test_one_run_has_no_spread_and_no_runs_have_no_statistics() -> None:
    single = Stats.of([64.0])
    assert single is not None
    assert single.stdev == 0.0
    assert Stats.of([]) is None


def test_summaries_skip_runs_that_do_not_report_the_metric() -> None:
    stats = summarize(
        [sample(), sample(prompt_eval_cached_count=512), sample(prompt_eval_duration=250_000_000)], "prompt_tps"
    )
    assert stats is not None
    assert (stats.n, stats.mean) == (2, 1536.0)
