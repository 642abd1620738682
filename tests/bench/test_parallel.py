"""``--parallel N``: N concurrent streams; per-stream and aggregate tok/s, against OLLAMA_NUM_PARALLEL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rshell.errors import Denied, RshellError, UsageError
from tests.bench.helpers import bench_settings, human_text, make_context, results_by_test, run_verb
from tests.ollama_server import FakeModel, FakeOllama

GEN_RATE, PROMPT_RATE, BATCH_COST = 64.0, 1024.0, 0.1


def bench(server: FakeOllama, tmp_path: Path) -> tuple[dict[str, Any], str]:
    argv = ["gpu1", "--runs", "2", "--test", "tg128", "--tg", "16", "--parallel", "2", "--seed", "5"]
    outcome = run_verb(make_context(bench_settings(server.url), tmp_path), argv)
    assert outcome.error is None, outcome.error
    return results_by_test(outcome.data)["tg16"], human_text(outcome.result)


def test_batched_streams_add_up_and_each_is_a_little_slower(tmp_path: Path) -> None:
    model = FakeModel("llama3.2:1b", gen_rate=GEN_RATE, prompt_rate=PROMPT_RATE, batch_cost=BATCH_COST)
    with FakeOllama([model], num_parallel=2, gather=2) as server:
        tg, shown = bench(server, tmp_path)
    per_stream = GEN_RATE / (1 + BATCH_COST)  # two sequences share each decode step
    assert (tg["streams"], tg["runs"], tg["aggregate_clock"]) == (2, 4, "server")
    assert abs(tg["per_stream_tps"]["mean"] - per_stream) / per_stream < 1e-6
    assert abs(tg["aggregate_tps"]["mean"] - 2 * per_stream) / (2 * per_stream) < 0.003
    assert "116.4 ± 0.0" in shown


def test_a_server_that_serialises_requests_gives_no_more_than_one_stream(tmp_path: Path) -> None:
    """OLLAMA_NUM_PARALLEL=1: the second stream waits for the first; each stream's own rate is the
    single-stream rate, and together they barely beat one (the wait shows in TTFT, not the counters)."""
    model = FakeModel("llama3.2:1b", gen_rate=GEN_RATE, prompt_rate=PROMPT_RATE, batch_cost=BATCH_COST)
    with FakeOllama([model], num_parallel=1, gather=2) as server:
        tg, _ = bench(server, tmp_path)
    assert abs(tg["per_stream_tps"]["mean"] - GEN_RATE) / GEN_RATE < 1e-6
    decode, prompt = 15 / GEN_RATE, tg["prompt_tokens_mean"] / PROMPT_RATE
    end_to_end = 2 * 15 / (prompt + 2 * decode)  # back to back: both decodes and the second prompt
    assert abs(tg["aggregate_tps"]["mean"] - end_to_end) / end_to_end < 0.003
    assert tg["aggregate_tps"]["mean"] < GEN_RATE


@pytest.mark.parametrize(
    ("argv", "error", "message"),
    [
        (["--parallel", "5"], Denied, "bench: --parallel 5 is more than target 'gpu1' allows (4)"),
        (["--parallel", "2", "--depth", "512"], UsageError, "bench: --depth and --parallel cannot be combined"),
    ],
    ids=["over-the-cap", "with-depth"],
)
def test_parallel_outside_what_is_measurable_is_refused_before_anything_is_sent(
    tmp_path: Path, argv: list[str], error: type[RshellError], message: str
) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        outcome = run_verb(make_context(bench_settings(server.url), tmp_path), ["gpu1", *argv])
        assert server.requests == []
    assert isinstance(outcome.error, error)
    assert outcome.error.message == message
