"""Prompts derive from the bench's seed: the same seed sends the same prompts, each run its own opener."""

from __future__ import annotations

from pathlib import Path

import pytest

from rshell.bench.prompts import OPENERS
from rshell.errors import Denied
from tests.bench.helpers import bench_settings, make_context, run_verb
from tests.ollama_server import FakeModel, FakeOllama


def prompts_sent(tmp_path: Path, argv: list[str]) -> tuple[list[str], dict[str, object]]:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        outcome = run_verb(make_context(bench_settings(server.url), tmp_path), ["gpu1", "--runs", "3", *argv])
        bodies = server.generate_bodies()
    assert outcome.error is None, outcome.error
    return [str(body["prompt"]) for body in bodies], dict(outcome.data["method"])


def test_the_same_seed_sends_the_same_prompts_and_another_seed_others(tmp_path: Path) -> None:
    first, method = prompts_sent(tmp_path / "a", ["--seed", "99"])
    again, _ = prompts_sent(tmp_path / "b", ["--seed", "99"])
    other, _ = prompts_sent(tmp_path / "c", ["--seed", "100"])
    assert first == again
    assert first != other
    assert method["seed"] == 99


def test_without_a_seed_one_is_chosen_and_recorded_so_the_bench_can_be_repeated(tmp_path: Path) -> None:
    first, method = prompts_sent(tmp_path / "a", [])
    seed = method["seed"]
    assert isinstance(seed, int)
    again, _ = prompts_sent(tmp_path / "b", ["--seed", str(seed)])
    assert first == again


def test_no_two_prompts_share_a_token_after_bos(tmp_path: Path) -> None:
    prompts, _ = prompts_sent(tmp_path, ["--seed", "5"])
    openers = [prompt.split()[0] for prompt in prompts]
    assert len(set(openers)) == len(prompts) == 7
    assert set(openers) <= set(OPENERS)
    assert not [(a, b) for a in OPENERS for b in OPENERS if a != b and b.startswith(a)]


def test_num_ctx_is_sent_as_asked_and_capped_by_the_policy(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        ctx = make_context(bench_settings(server.url, max_num_ctx=8192), tmp_path)
        ok = run_verb(ctx, ["gpu1", "--runs", "1", "--num-ctx", "8192"])
        sizes = {body["options"]["num_ctx"] for body in server.generate_bodies()}
        denied = run_verb(ctx, ["gpu1", "--runs", "1", "--num-ctx", "16384"])
    assert ok.error is None
    assert sizes == {8192}
    assert ok.data["models"][0]["context_length"] == 8192
    assert isinstance(denied.error, Denied)
    assert denied.error.message == "bench: --num-ctx 16384 is more than target 'gpu1' allows (8192)"


@pytest.mark.parametrize("value", ["-1", "2147483648", "abc"])
def test_a_bad_seed_is_a_usage_error(tmp_path: Path, value: str) -> None:
    from rshell.errors import UsageError

    with pytest.raises(UsageError):
        run_verb(make_context(bench_settings("http://127.0.0.1:1"), tmp_path), ["gpu1", "--seed", value])
