"""``bench TARGET`` against a server that follows ollama's API: what is sent, what is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rshell.bench import vram
from rshell.ollama import ALLOWED_ENDPOINTS
from tests.bench.helpers import bench_settings, human_text, make_context, results_by_test, run_verb
from tests.ollama_server import FakeModel, FakeOllama


def bench(server: FakeOllama, tmp_path: Path, argv: list[str], **target: object) -> Any:
    outcome = run_verb(make_context(bench_settings(server.url, **target), tmp_path), ["gpu1", *argv])
    assert outcome.error is None, outcome.error
    return outcome


def test_generation_rate_is_64_tokens_per_second_in_json_and_on_screen(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b", gen_rate=64.0)]) as server:
        outcome = bench(server, tmp_path, ["--runs", "3", "--test", "tg128"])
        final = server.generate_bodies()
    tg = results_by_test(outcome.data)["tg128"]
    assert [sample["generated_tokens"] for sample in tg["samples"]] == [128, 128, 128]
    assert tg["gen_tps"]["mean"] == 64.0
    assert tg["gen_tps"]["stdev"] == 0.0
    row = next(line for line in human_text(outcome.result).splitlines() if " tg128 " in line)
    assert "64.0 ± 0.0" in row
    assert len(final) == 4


def test_prompt_rate_and_size_of_the_pp512_test(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b", prompt_rate=2048.0)]) as server:
        outcome = bench(server, tmp_path, ["--runs", "2", "--test", "pp512"])
    pp = results_by_test(outcome.data)["pp512"]
    assert 500 <= pp["prompt_tokens_mean"] <= 520
    assert pp["prompt_tps"]["mean"] == pytest.approx(2048.0)
    assert "2048.0" in human_text(outcome.result)


def test_every_request_is_raw_deterministic_and_pins_the_setup(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        data = bench(server, tmp_path, ["--runs", "3", "--seed", "1234"]).data
        bodies = server.generate_bodies()
        paths = server.paths()
    assert len(bodies) == 1 + 2 * 3
    assert all(body["raw"] is True and body["stream"] is True and body["keep_alive"] == "300s" for body in bodies)
    assert all(body["options"]["temperature"] == 0 and body["options"]["seed"] == 1234 for body in bodies)
    # llama-bench's context: prompt 512 + generation 128, plus 64 tokens of slack for text prompts
    assert {body["options"]["num_ctx"] for body in bodies} == {512 + 128 + 64}
    openers = [body["prompt"].split()[0] for body in bodies]
    assert len(set(openers)) == len(bodies)
    assert sorted(body["options"]["num_predict"] for body in bodies[1:]) == [1, 1, 1, 128, 128, 128]
    assert paths <= ALLOWED_ENDPOINTS
    assert (data["method"]["seed"], data["method"]["num_ctx"], data["method"]["keep_alive_s"]) == (1234, 704, 300.0)


def test_time_to_first_token_is_measured_on_the_client(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b", first_token_delay=0.2, token_interval=0.002)]) as server:
        outcome = bench(server, tmp_path, ["--runs", "2", "--test", "tg128"])
    tg = results_by_test(outcome.data)["tg128"]
    assert 0.2 <= tg["ttft_s"]["min"] < 0.5
    assert tg["e2e_s"]["min"] >= tg["ttft_s"]["min"] + 0.2


def test_reported_cached_tokens_are_subtracted_from_processed_prompt_tokens(tmp_path: Path) -> None:
    sets = {"shared": ["the same long prefix " * 20 + "tail"]}
    with FakeOllama([FakeModel("llama3.2:1b", prompt_rate=1000.0)], version="0.31.0", reports_cached=True) as server:
        outcome = bench(
            server, tmp_path, ["--runs", "2", "--test", "pp512", "--prompt-set", "shared"], prompt_sets=sets
        )
    sample = results_by_test(outcome.data)["pp512"]["samples"][0]
    assert sample["cached_tokens"] == 1  # BOS: every prompt starts with its own word right after it
    assert sample["evaluated_prompt_tokens"] == sample["prompt_tokens"] - 1
    assert sample["prompt_tps"] == pytest.approx(1000.0, rel=1e-6)


def test_runs_that_stay_short_after_three_retries_are_left_out_and_reported(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b", stop_after=40)]) as server:
        outcome = bench(server, tmp_path, ["--runs", "2", "--test", "tg128"])
        calls = server.generate_calls
    tg = results_by_test(outcome.data)["tg128"]
    assert calls == 1 + 2 * 4
    assert (tg["runs"], tg["stopped_short"], tg["excluded_runs"]) == (0, 8, 2)
    assert tg["gen_tps"] is None
    assert [run["generated_tokens"] for run in tg["short_runs"]] == [40] * 8
    row = next(line for line in human_text(outcome.result).splitlines() if " tg128 " in line)
    assert row.endswith("  8  2")


def test_one_progress_event_per_run_including_the_warm_up(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        outcome = bench(server, tmp_path, ["--runs", "2"])
    labels = [event.label for event in outcome.progress]
    assert labels[:3] == ["llama3.2:1b warm-up", "llama3.2:1b pp512 run 1/2", "llama3.2:1b pp512 run 2/2"]
    assert [event.done for event in outcome.progress] == [0, 1, 2, 3, 4, 5]
    assert {event.total for event in outcome.progress} == {5}


def test_result_carries_model_details_version_and_vram_from_ps(tmp_path: Path) -> None:
    model = FakeModel("llama3.2:1b", family="llama", parameter_size="1.2B", quantization_level="Q4_K_M")
    with FakeOllama([model], version="0.9.1") as server:
        data = bench(server, tmp_path, ["--runs", "1"]).data
    entry = data["models"][0]
    assert (entry["family"], entry["parameter_size"], entry["quantization_level"]) == ("llama", "1.2B", "Q4_K_M")
    assert (entry["size_vram_bytes"], entry["context_length"]) == (1_300_000_000, 704)  # loaded with num_ctx 704
    assert entry["digest"] == model.digest
    assert entry["load"]["cold_s"] == 2.0
    assert entry["load"]["warm_s"]["mean"] == 0.01
    assert data["ollama_version"] == "0.9.1"
    assert data["partial"] is False


def test_a_model_already_loaded_has_no_cold_load_time(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        server.loaded.add("llama3.2:1b")
        server.loaded_ctx["llama3.2:1b"] = 704  # with the context this bench asks for
        data = bench(server, tmp_path, ["--runs", "1"]).data
    assert data["models"][0]["load"]["cold_s"] is None


class FakeSampler:
    """Stands in for rshell.gpu's VramSampler: one GPU that peaked at 5 GiB."""

    def __init__(self) -> None:
        self.peak_used_bytes = 5 << 30
        self.gpu_names = ["NVIDIA GeForce RTX 4090"]
        self.last_error = None

    def __enter__(self) -> FakeSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_peak_vram_and_gpu_names_come_from_the_sampler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vram, "open_sampler", lambda settings: (FakeSampler(), None))
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        outcome = bench(server, tmp_path, ["--runs", "1"])
    assert outcome.data["gpus"]["names"] == ["NVIDIA GeForce RTX 4090"]
    assert outcome.data["gpus"]["peak_vram_bytes"] == 5 << 30
    assert "peak VRAM: 5.0 GiB" in human_text(outcome.result)


def test_token_caps_from_the_policy_shrink_the_tests(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        outcome = bench(server, tmp_path, ["--runs", "1"], max_prompt_tokens=128, max_tokens=32)
        bodies = server.generate_bodies()
    assert set(results_by_test(outcome.data)) == {"pp128", "tg32"}
    assert max(body["options"]["num_predict"] for body in bodies) == 32
    assert max(len(body["prompt"].split()) for body in bodies[1:]) <= 130


def test_a_prompt_set_from_the_policy_is_used(tmp_path: Path) -> None:
    sets = {"code": ["Write a function that sorts a list.", "Explain recursion."]}
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        bench(server, tmp_path, ["--runs", "2", "--test", "tg128", "--prompt-set", "code"], prompt_sets=sets)
        prompts = [body["prompt"] for body in server.generate_bodies()[1:]]
    assert prompts[0].endswith("Write a function that sorts a list.")
    assert prompts[1].endswith("Explain recursion.")


def test_a_custom_prompt_is_accepted_when_the_policy_allows_it(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        argv = ["--runs", "1", "--test", "tg128", "--prompt", "Tell me about tides."]
        outcome = bench(server, tmp_path, argv, allow_custom_prompts=True)
        prompts = [body["prompt"] for body in server.generate_bodies()[1:]]
    assert prompts[0].endswith("Tell me about tides.")
    assert outcome.data["method"]["prompt_source"] == "custom"


def test_without_model_every_allowed_model_present_is_benchmarked(tmp_path: Path) -> None:
    models = [FakeModel("llama3.2:1b"), FakeModel("qwen3:4b"), FakeModel("secret:70b")]
    with FakeOllama(models) as server:
        outcome = bench(server, tmp_path, ["--runs", "1"], models=["llama3.2:1b", "qwen3:4b", "absent:1b"])
    assert [model["name"] for model in outcome.data["models"]] == ["llama3.2:1b", "qwen3:4b"]
