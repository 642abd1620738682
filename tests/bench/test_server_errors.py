"""What ollama's own error paths do to a bench: 503 busy is retried, 400/500 end it in one line with
the runs done kept, a slow cold load is allowed load_timeout rather than run_timeout."""

from __future__ import annotations

from pathlib import Path

import pytest

from rshell.bench.history import BenchHistory, HistoryScope
from rshell.errors import Denied, ExitStatus, VerbFailed
from tests.bench.helpers import bench_settings, make_context, results_by_test, run_verb
from tests.ollama_server import BAD_REQUEST, BUSY, RUNNER_STOPPED, FakeModel, FakeOllama


def test_server_busy_is_retried_after_a_backoff_and_the_bench_completes(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")], statuses={0: BUSY, 2: BUSY, 3: BUSY}) as server:
        outcome = run_verb(make_context(bench_settings(server.url), tmp_path), ["gpu1", "--runs", "2"])
        calls = server.generate_calls
    assert outcome.error is None, outcome.error
    assert calls == 1 + 4 + 3
    assert outcome.data["models"][0]["busy_retries"] == 3
    assert results_by_test(outcome.data)["pp512"]["runs"] == 2


def test_a_server_that_stays_busy_fails_after_the_last_backoff(tmp_path: Path) -> None:
    busy = dict.fromkeys(range(10), BUSY)
    with FakeOllama([FakeModel("llama3.2:1b")], statuses=busy) as server:
        outcome = run_verb(make_context(bench_settings(server.url), tmp_path), ["gpu1", "--runs", "1"])
        calls = server.generate_calls
    assert isinstance(outcome.error, VerbFailed)
    assert outcome.error.message == f"bench gpu1: llama3.2:1b warm-up: HTTP 503: {BUSY[1]}"
    assert calls == 5


@pytest.mark.parametrize(("failure", "status"), [(RUNNER_STOPPED, 500), (BAD_REQUEST, 400)], ids=["500", "400"])
def test_a_500_or_400_mid_bench_is_one_line_and_keeps_the_runs_done(
    tmp_path: Path, failure: tuple[int, str], status: int
) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")], statuses={3: failure}) as server:
        outcome = run_verb(make_context(bench_settings(server.url), tmp_path), ["gpu1", "--runs", "3"])
    assert isinstance(outcome.error, VerbFailed)
    assert outcome.error.status == ExitStatus.FAILED
    message = outcome.error.message
    assert message.startswith(f"bench gpu1: llama3.2:1b pp512 run 3: HTTP {status}: {failure[1]}")
    assert "\n" not in message
    run_id = outcome.data["run_id"]
    assert message.endswith(f"(partial results kept as run {run_id})")
    assert results_by_test(outcome.data)["pp512"]["runs"] == 2
    stored = BenchHistory(tmp_path).load(run_id, HistoryScope.of(bench_settings(server.url)))
    assert stored["partial"] is True


def test_a_cold_load_slower_than_run_timeout_is_allowed_load_timeout(tmp_path: Path) -> None:
    model = FakeModel("llama3.2:1b", load_delay=1.0)
    with FakeOllama([model]) as server:
        slow = bench_settings(server.url, run_timeout="500ms", load_timeout="30s")
        outcome = run_verb(make_context(slow, tmp_path), ["gpu1", "--runs", "1", "--test", "tg128"])
        assert outcome.error is None, outcome.error
        server.loaded.clear()
        short = bench_settings(server.url, run_timeout="30s", load_timeout="500ms")
        failed = run_verb(make_context(short, tmp_path), ["gpu1", "--runs", "1", "--test", "tg128"])
    assert isinstance(failed.error, VerbFailed)
    assert failed.error.message == "bench gpu1: llama3.2:1b warm-up: no answer within load_timeout (0.5s)"


def test_a_model_whose_show_says_it_is_remote_is_refused_before_any_generate(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b", remote=True)]) as server:
        outcome = run_verb(make_context(bench_settings(server.url), tmp_path), ["gpu1", "--runs", "1"])
        calls = server.generate_calls
    assert isinstance(outcome.error, Denied)
    assert "llama3.2:1b: /api/show says it runs remotely" in outcome.error.message
    assert calls == 0


@pytest.mark.parametrize("model", ["kimi:CLOUD", "gpt-oss:120B-Cloud"])
def test_cloud_tags_are_refused_in_any_case(tmp_path: Path, model: str) -> None:
    outcome = run_verb(
        make_context(bench_settings("http://127.0.0.1:1", models=[model]), tmp_path), ["gpu1", "--model", model]
    )
    assert isinstance(outcome.error, Denied)
    assert "is a :cloud model" in outcome.error.message


def test_a_model_loaded_with_another_num_ctx_counts_as_a_cold_load(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        ctx = make_context(bench_settings(server.url), tmp_path)
        first = run_verb(ctx, ["gpu1", "--runs", "1", "--num-ctx", "2048"])
        same = run_verb(ctx, ["gpu1", "--runs", "1", "--num-ctx", "2048"])
        other = run_verb(ctx, ["gpu1", "--runs", "1", "--num-ctx", "4096"])
    assert first.data["models"][0]["load"]["cold_s"] == 2.0
    assert same.data["models"][0]["load"]["cold_s"] is None  # already loaded, as asked
    assert other.data["models"][0]["load"]["cold_s"] == 2.0  # reloaded for the new context
