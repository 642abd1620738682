"""The parameter matrix: every combination of --num-ctx/--num-gpu/--num-batch/--num-thread within policy."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from rshell.errors import Denied, RshellError, UsageError
from tests.bench.helpers import Outcome, bench_settings, human_text, make_context, run_verb
from tests.ollama_server import FakeModel, FakeOllama

GPU_RATE, CPU_RATE = 64.0, 16.0
#: half the 16 layers on the CPU: each token takes 0.5/64 + 0.5/16 s
HALF_OFFLOADED_RATE = 1 / (0.5 / GPU_RATE + 0.5 / CPU_RATE)


def bench(server: FakeOllama, tmp_path: Path, *argv: str) -> Outcome:
    ctx = make_context(bench_settings(server.url), tmp_path)
    outcome = run_verb(ctx, ["gpu1", "--runs", "2", "--test", "tg128", "--tg", "16", *argv])
    assert outcome.error is None, outcome.error
    return outcome


def test_each_combination_is_its_own_row_measured_with_its_own_options(tmp_path: Path) -> None:
    model = FakeModel("llama3.2:1b", gen_rate=GPU_RATE, cpu_gen_rate=CPU_RATE, layers=16)
    with FakeOllama([model]) as server:
        outcome = bench(server, tmp_path, "--num-gpu", "16,8", "--num-batch", "256,512")
        sent = {(body["options"].get("num_gpu"), body["options"].get("num_batch")) for body in server.generate_bodies()}
    assert sent == {(16, 256), (16, 512), (8, 256), (8, 512)}
    data = outcome.data
    rows = {entry["setup_label"]: entry for entry in data["models"]}
    assert set(rows) == {"num_gpu=16 num_batch=256", "num_gpu=16 num_batch=512", "num_gpu=8 num_batch=256",
                         "num_gpu=8 num_batch=512"}  # fmt: skip
    for entry in rows.values():
        truth = GPU_RATE if entry["setup"]["num_gpu"] == 16 else HALF_OFFLOADED_RATE
        assert abs(entry["tests"][0]["gen_tps"]["mean"] - truth) / truth < 1e-6
        assert entry["load"]["cold_s"] is not None  # other options: ollama reloads the runner
    assert rows["num_gpu=8 num_batch=512"]["size_vram_bytes"] == model.size_vram // 2
    assert [setup["num_gpu"] for setup in data["method"]["matrix"]] == [16, 16, 8, 8]
    assert "llama3.2:1b  num_gpu=8 num_batch=256  tg16  2  25.6 ± 0.0" in human_text(outcome.result)


@pytest.mark.parametrize(
    ("argv", "policy", "error", "message"),
    [
        (["--num-gpu", "100"], {"max_num_gpu": 99}, Denied, "--num-gpu 100 is more than target 'gpu1' allows (99)"),
        (["--num-batch", "8192"], {}, Denied, "--num-batch 8192 is more than target 'gpu1' allows (4096)"),
        (["--num-ctx", "4096,65536"], {"max_num_ctx": 32768}, Denied, "--num-ctx 65536 is more than"),
        (["--num-gpu", "1,2,3", "--num-thread", "1,2,3"], {}, Denied, "9 combinations of options is more than"),
        (["--num-gpu", "1,2", "--num-batch", "64,128"], {"max_matrix": 3}, Denied, "(max_matrix 3)"),
        (["--num-thread", "0"], {}, UsageError, "--num-thread takes up to 8 whole numbers >= 1"),
        (["--num-ctx", "4096;8192"], {}, UsageError, "--num-ctx takes up to 8 whole numbers >= 256"),
        (["--num-gpu", "-1"], {}, UsageError, "--num-gpu takes up to 8 whole numbers >= 0"),
    ],
    ids=[
        "gpu-over-cap",
        "batch-over-default-cap",
        "ctx-over-cap",
        "too-many-combinations",
        "policy-matrix-cap",
        "zero-threads",
        "bad-separator",
        "negative",
    ],
)
def test_values_outside_the_policy_are_refused_before_anything_is_sent(
    tmp_path: Path, argv: list[str], policy: dict[str, object], error: type[RshellError], message: str
) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        outcome = run_verb(make_context(bench_settings(server.url, **policy), tmp_path), ["gpu1", *argv])
        assert server.requests == []
    assert isinstance(outcome.error, error)
    assert message in outcome.error.message


def test_compare_pairs_matrix_rows_by_setup_and_marks_other_offloads_unlike(tmp_path: Path) -> None:
    model = FakeModel("llama3.2:1b", gen_rate=GPU_RATE, cpu_gen_rate=CPU_RATE)
    with FakeOllama([model]) as server:
        first = bench(server, tmp_path, "--num-gpu", "16,8", "--seed", "1").data["run_id"]
        second = bench(server, tmp_path, "--num-gpu", "16,8", "--seed", "2").data["run_id"]
        full = bench(server, tmp_path, "--num-gpu", "16").data["run_id"]
        half = bench(server, tmp_path, "--num-gpu", "8").data["run_id"]
    ctx = make_context(bench_settings("http://127.0.0.1:1"), tmp_path)
    alike = run_verb(ctx, ["compare", str(first), str(second)]).data
    assert alike["comparable"] is True
    assert {row["model"] for row in alike["changes"]} == {"llama3.2:1b [num_gpu=16]", "llama3.2:1b [num_gpu=8]"}
    rates = [row for row in alike["changes"] if row["metric"] == "gen_tps"]
    assert len(rates) == 2
    assert not any(row["significant"] for row in rates)  # each setup against its own kind
    unlike = run_verb(ctx, ["compare", str(full), str(half)]).data
    assert unlike["comparable"] is False
    assert {(c["what"], c["a"], c["b"]) for c in unlike["setup_changes"]} >= {("num_gpu", 16, 8)}
    assert all(row["setup"] == "UNLIKE" for row in unlike["changes"])
    history = run_verb(ctx, ["history", "--format", "csv"]).data["formatted"]
    rows = list(csv.DictReader(io.StringIO("\n".join(str(line) for line in history))))
    assert [row["setup"] for row in rows if row["run_id"] == first] == ["num_gpu=16", "num_gpu=8"]
    assert [row["setup"] for row in rows if row["run_id"] == full] == [""]
