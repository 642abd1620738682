"""``bench TARGET`` when it must refuse, or the server fails: Denied, one-line errors, partial results."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path

import pytest

from rshell.bench.history import BenchHistory, HistoryScope
from rshell.errors import Denied, ExitStatus, Interrupted, RshellError, UsageError, VerbFailed
from rshell.events import Event, Progress, Result
from tests.bench.helpers import Outcome, bench_settings, drive, events_of, make_context, results_by_test, run_verb
from tests.ollama_server import FakeModel, FakeOllama

#: what the caller of these tests may read back from the history: target gpu1, model llama3.2:1b
GPU1 = HistoryScope.of(bench_settings("http://127.0.0.1:1"))


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize(
    ("argv", "target", "reason"),
    [
        (["gpu2"], {}, "target 'gpu2' is not in your policy (targets: gpu1)"),
        (
            ["gpu1", "--model", "qwen3:4b"],
            {},
            "model 'qwen3:4b' is not allowed on target 'gpu1' (allowed: llama3.2:1b)",
        ),
        (["gpu1", "--model", "gpt-oss:120b-cloud"], {"models": ["gpt-oss:120b-cloud"]}, "is a :cloud model"),
        (["gpu1", "--model", "kimi:cloud"], {"models": ["kimi:cloud"]}, "is a :cloud model"),
        (["gpu1", "--prompt-set", "nope"], {}, "prompt set 'nope' is not defined"),
        (["gpu1", "--prompt", "hello"], {}, "does not allow custom prompts"),
        (
            ["gpu1", "--prompt", "x" * 50],
            {"allow_custom_prompts": True, "max_prompt_length": 10},
            "longer than the policy",
        ),
    ],
)
def test_refusals_are_denied_before_anything_is_sent(
    tmp_path: Path, argv: list[str], target: dict[str, object], reason: str
) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        outcome = run_verb(make_context(bench_settings(server.url, **target), tmp_path), argv)
        sent = list(server.requests)
    assert isinstance(outcome.error, Denied)
    assert outcome.error.status == ExitStatus.DENIED
    assert reason in outcome.error.message
    assert sent == []


def test_a_model_missing_on_the_server_lists_allowed_and_present_models(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        settings = bench_settings(server.url, models=["llama3.2:1b", "qwen3:4b"])
        outcome = run_verb(make_context(settings, tmp_path), ["gpu1", "--model", "qwen3:4b"])
    assert isinstance(outcome.error, VerbFailed)
    assert outcome.error.message == (
        "bench: model 'qwen3:4b' is not on target 'gpu1' "
        "(allowed: llama3.2:1b, qwen3:4b; allowed and present: llama3.2:1b)"
    )


def test_a_target_that_is_down_is_a_one_line_failure(tmp_path: Path) -> None:
    outcome = run_verb(make_context(bench_settings(closed_port_url()), tmp_path), ["gpu1"])
    assert isinstance(outcome.error, VerbFailed)
    assert outcome.error.status == ExitStatus.FAILED
    assert outcome.error.message == "bench gpu1: connection refused: is ollama running there?"
    assert outcome.events == []


def assert_partial(tmp_path: Path, outcome_events: list[object], error: RshellError | None, runs_kept: int) -> str:
    """The partial Result came before the error, with what was measured, and is in the history."""
    results = [event for event in outcome_events if isinstance(event, Result)]
    assert len(results) == 1
    data = results[0].data
    assert data["partial"] is True
    assert results_by_test(data)["tg128"]["runs"] == runs_kept
    assert error is not None
    assert f"partial results kept as run {data['run_id']}" in error.message
    stored = BenchHistory(tmp_path).load(str(data["run_id"]), GPU1)
    assert stored["partial"] is True
    return error.message


def test_a_server_slower_than_run_timeout_fails_and_keeps_the_runs_done(tmp_path: Path) -> None:
    model = FakeModel("llama3.2:1b", first_token_delay=2.0, slow_from_call=3)
    with FakeOllama([model]) as server:
        settings = bench_settings(server.url, run_timeout="300ms")
        outcome = run_verb(make_context(settings, tmp_path), ["gpu1", "--test", "tg128", "--runs", "4"])
    assert isinstance(outcome.error, VerbFailed)
    message = assert_partial(tmp_path, list(outcome.events), outcome.error, runs_kept=2)
    assert message.startswith("bench gpu1: llama3.2:1b tg128 run 3: no answer within run_timeout (0.3s)")


def test_total_timeout_bounds_the_whole_bench(tmp_path: Path) -> None:
    model = FakeModel("llama3.2:1b", first_token_delay=0.25)
    with FakeOllama([model]) as server:
        settings = bench_settings(server.url, run_timeout="10s", total_timeout="600ms")
        outcome = run_verb(make_context(settings, tmp_path), ["gpu1", "--test", "tg128", "--runs", "5"])
    assert isinstance(outcome.error, VerbFailed)
    assert "exceeded total_timeout (0.6s)" in outcome.error.message


def test_an_error_in_the_middle_of_a_stream_keeps_the_runs_done(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b", error_on_call=2)]) as server:
        outcome = run_verb(make_context(bench_settings(server.url), tmp_path), ["gpu1", "--test", "tg128"])
    assert isinstance(outcome.error, VerbFailed)
    message = assert_partial(tmp_path, list(outcome.events), outcome.error, runs_kept=1)
    assert "tg128 run 2: the server reported an error mid-stream: an error was encountered" in message


def test_malformed_json_from_the_server_is_a_clear_failure(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b", malformed_on_call=3)]) as server:
        outcome = run_verb(make_context(bench_settings(server.url), tmp_path), ["gpu1", "--test", "tg128"])
    assert isinstance(outcome.error, VerbFailed)
    message = assert_partial(tmp_path, list(outcome.events), outcome.error, runs_kept=2)
    assert "/api/generate: the server sent malformed JSON" in message


def test_ctrl_c_during_a_run_keeps_the_partial_result(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        events = events_of(make_context(bench_settings(server.url), tmp_path), ["gpu1", "--test", "tg128"])

        def press_ctrl_c(event: Event) -> Event | None:
            at_run_3 = isinstance(event, Progress) and event.label.endswith("run 3/5")
            return events.throw(KeyboardInterrupt) if at_run_3 else None

        outcome = drive(events, press_ctrl_c)
    assert isinstance(outcome.error, Interrupted)
    assert outcome.error.status == ExitStatus.INTERRUPTED
    assert_partial(tmp_path, list(outcome.events), outcome.error, runs_kept=2)


def test_a_real_sigint_while_waiting_for_the_server_interrupts_the_bench(tmp_path: Path) -> None:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    model = FakeModel("llama3.2:1b", first_token_delay=5.0, slow_from_call=2)
    try:
        with FakeOllama([model]) as server:
            outcome = run_verb_with_sigint(tmp_path, server.url, when_label="run 2/5")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert isinstance(outcome.error, Interrupted)
    assert outcome.error.message.startswith("bench gpu1: interrupted")
    assert_partial(tmp_path, list(outcome.events), outcome.error, runs_kept=1)


def run_verb_with_sigint(tmp_path: Path, url: str, when_label: str) -> Outcome:
    """Send a real SIGINT to this process 0.3 s after the run labelled ``when_label`` starts."""
    timers: list[threading.Timer] = []

    def arm_timer(event: Event) -> None:
        if isinstance(event, Progress) and event.label.endswith(when_label):
            timers.append(threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)))
            timers[-1].start()

    try:
        return drive(events_of(make_context(bench_settings(url), tmp_path), ["gpu1", "--test", "tg128"]), arm_timer)
    finally:
        for timer in timers:
            timer.cancel()


def test_the_cancel_signal_stops_the_bench_between_runs(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        ctx = make_context(bench_settings(server.url), tmp_path)

        def cancel_at_run_3(event: Event) -> None:
            if isinstance(event, Progress) and event.label.endswith("run 3/5"):
                ctx.cancel.set()

        outcome = drive(events_of(ctx, ["gpu1", "--test", "tg128"]), cancel_at_run_3)
    assert isinstance(outcome.error, Interrupted)
    assert outcome.error.message.startswith("bench gpu1: cancelled")
    assert_partial(tmp_path, list(outcome.events), outcome.error, runs_kept=2)


def test_closing_the_generator_mid_bench_still_stores_what_was_measured(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        events = events_of(make_context(bench_settings(server.url), tmp_path), ["gpu1", "--test", "tg128"])
        for event in events:
            if isinstance(event, Progress) and event.label.endswith("run 4/5"):
                events.close()
                break
    [entry] = BenchHistory(tmp_path).recent(None, 10, GPU1)
    assert entry.partial is True
    assert results_by_test(entry.document)["tg128"]["runs"] == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "only-one"], "give two run ids"),
        (["history", "extra"], "unexpected argument 'extra'"),
        (["gpu1", "extra"], "unexpected argument 'extra'"),
        (["history", "--model", "a:1b", "--model", "b:1b"], "at most one --model"),
    ],
)
def test_sub_command_usage_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    outcome = run_verb(make_context(bench_settings("http://127.0.0.1:9"), tmp_path), argv)
    assert isinstance(outcome.error, UsageError)
    assert message in outcome.error.message
