"""``bench compare`` says how two runs were set up differently, and marks their rows UNLIKE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.bench.helpers import bench_settings, human_text, make_context, run_verb
from tests.ollama_server import FakeModel, FakeOllama


def bench_once(server: FakeOllama, tmp_path: Path, *argv: str) -> str:
    ctx = make_context(bench_settings(server.url), tmp_path)
    outcome = run_verb(ctx, ["gpu1", "--runs", "2", "--test", "tg128", *argv])
    assert outcome.error is None, outcome.error
    return str(outcome.data["run_id"])


def compare(tmp_path: Path, run_a: str, run_b: str) -> tuple[dict[str, Any], str]:
    outcome = run_verb(make_context(bench_settings("http://127.0.0.1:1"), tmp_path), ["compare", run_a, run_b])
    assert outcome.error is None, outcome.error
    return dict(outcome.data), human_text(outcome.result)


def test_a_changed_num_ctx_is_flagged_and_the_rows_marked_unlike(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        small = bench_once(server, tmp_path, "--num-ctx", "2048")
        large = bench_once(server, tmp_path, "--num-ctx", "8192")
    data, shown = compare(tmp_path, small, large)
    assert data["comparable"] is False
    changes = {(change["what"], change["model"]): (change["a"], change["b"]) for change in data["setup_changes"]}
    assert changes == {("num_ctx", None): (2048, 8192), ("loaded context", "llama3.2:1b"): (2048, 8192)}
    assert all(row["setup"] == "UNLIKE" for row in data["changes"])
    assert "setup differs: num_ctx 2048 -> 8192" in shown


def test_a_new_ollama_version_and_another_quantisation_are_named(tmp_path: Path) -> None:
    model = FakeModel("llama3.2:1b", quantization_level="Q8_0")
    with FakeOllama([model], version="0.30.1") as server:
        before = bench_once(server, tmp_path, "--seed", "1")
        server.version, model.quantization_level = "0.31.0", "Q4_K_M"
        after = bench_once(server, tmp_path, "--seed", "1")
    data, shown = compare(tmp_path, before, after)
    named = {change["what"] for change in data["setup_changes"]}
    assert named == {"ollama version", "quantisation", "digest"}
    assert "setup differs: ollama version 0.30.1 -> 0.31.0" in shown
    assert "setup differs: llama3.2:1b quantisation Q8_0 -> Q4_K_M" in shown


def test_two_runs_set_up_alike_are_comparable(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        first = bench_once(server, tmp_path, "--seed", "1")
        second = bench_once(server, tmp_path, "--seed", "2")
    data, _ = compare(tmp_path, first, second)
    assert (data["comparable"], data["setup_changes"]) == (True, [])
    assert {row["setup"] for row in data["changes"]} == {""}
