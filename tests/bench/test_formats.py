"""``--format`` and ``--pp``/``--tg``: llama-bench's sweeps and the standard output formats."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from rshell.errors import UsageError
from tests.bench.helpers import bench_settings, make_context, results_by_test, run_verb
from tests.ollama_server import FakeModel, FakeOllama

#: cmd/bench/bench.go OutputMetrics: "BenchmarkModel/name=%s/step=%s %d %.2f ns/token %.2f token/sec"
BENCHSTAT_LINE = re.compile(r"BenchmarkModel/name=\S+/step=(prefill|generate) \d+ [0-9.]+ ns/token [0-9.]+ token/sec")


def formatted(tmp_path: Path, form: str, *argv: str) -> tuple[list[str], dict[str, Any]]:
    model = FakeModel("llama3.2:1b", prompt_rate=1536.0, gen_rate=48.0)
    with FakeOllama([model]) as server:
        outcome = run_verb(
            make_context(bench_settings(server.url), tmp_path), ["gpu1", "--runs", "2", "--format", form, *argv]
        )
    assert outcome.error is None, outcome.error
    lines = outcome.data["formatted"]
    assert isinstance(lines, list)
    return [str(line) for line in lines], dict(outcome.data)


def test_benchstat_lines_follow_ollamas_cmd_bench_and_carry_the_corrected_rates(tmp_path: Path) -> None:
    lines, _ = formatted(tmp_path, "benchstat")
    assert len(lines) == 4
    assert all(BENCHSTAT_LINE.fullmatch(line) for line in lines), lines
    generate = [line for line in lines if "/step=generate " in line]
    assert (
        generate
        == ["BenchmarkModel/name=llama3.2:1b/test=tg128/step=generate 127 20833333.33 ns/token 48.00 token/sec"] * 2
    )


def test_csv_has_one_row_per_run_with_its_numbers(tmp_path: Path) -> None:
    lines, _ = formatted(tmp_path, "csv")
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert [(row["test"], row["run"]) for row in rows] == [
        ("pp512", "1"),
        ("pp512", "2"),
        ("tg128", "1"),
        ("tg128", "2"),
    ]
    assert {row["gen_tps"] for row in rows if row["test"] == "tg128"} == {"48"}


def test_jsonl_and_json_parse_and_md_is_a_pipe_table(tmp_path: Path) -> None:
    jsonl, _ = formatted(tmp_path / "a", "jsonl")
    assert [json.loads(line)["test"] for line in jsonl] == ["pp512", "pp512", "tg128", "tg128"]
    (whole,), data = formatted(tmp_path / "b", "json")
    assert json.loads(whole)["run_id"] == data["run_id"]
    md, _ = formatted(tmp_path / "c", "md")
    assert md[:2] == ["| model | test | runs | t/s | tokens |", "|---|---|---|---|---|"]
    assert md[3] == "| llama3.2:1b | tg128 | 2 | 48.0 ± 0.0 | 128 |"


def test_pp_and_tg_sweep_sizes_as_llama_bench_does(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        ctx = make_context(bench_settings(server.url), tmp_path)
        outcome = run_verb(ctx, ["gpu1", "--runs", "1", "--pp", "256,1024", "--tg", "16,64"])
        sizes = {body["options"]["num_ctx"] for body in server.generate_bodies()}
    tests = results_by_test(outcome.data)
    assert list(tests) == ["pp256", "pp1024", "tg16", "tg64"]
    assert [tests["tg16"]["generated_tokens_mean"], tests["tg64"]["generated_tokens_mean"]] == [16, 64]
    assert 1000 <= tests["pp1024"]["prompt_tokens_mean"] <= 1040
    assert sizes == {1024 + 64 + 64}


@pytest.mark.parametrize("value", ["0", "512,", "abc", "1,2,3,4,5,6,7,8,9", "²", "99999999"])
def test_a_bad_size_list_is_one_usage_line(tmp_path: Path, value: str) -> None:
    outcome = run_verb(make_context(bench_settings("http://127.0.0.1:1"), tmp_path), ["gpu1", "--pp", value])
    assert isinstance(outcome.error, UsageError)
    assert "--pp takes up to 8 token counts like 512,2048" in outcome.error.message


def test_history_as_csv_has_a_row_per_run_model_and_test_with_its_setup(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b", gen_rate=48.0)]) as server:
        ctx = make_context(bench_settings(server.url), tmp_path)
        first = run_verb(ctx, ["gpu1", "--runs", "2", "--seed", "11", "--test", "tg128"]).data["run_id"]
        second = run_verb(ctx, ["gpu1", "--runs", "2", "--seed", "12", "--num-ctx", "4096"]).data["run_id"]
        outcome = run_verb(ctx, ["history", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO("\n".join(str(line) for line in outcome.data["formatted"]))))
    assert [(row["run_id"], row["test"], row["seed"], row["num_ctx"]) for row in rows] == [
        (second, "pp512", "12", "4096"),
        (second, "tg128", "12", "4096"),
        (first, "tg128", "11", "212"),  # tg128 alone: its prompt (about 20 tokens) + 128 + 64
    ]
    assert rows[2]["mean"] == "48"
    stat = run_verb(ctx, ["history", "--format", "benchstat"]).data["formatted"]
    assert len(stat) == 6
    assert all(BENCHSTAT_LINE.fullmatch(str(line)) for line in stat)
