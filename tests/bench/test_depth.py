"""``--depth N``: a context of N tokens is processed untimed before the measured test (llama-bench ``-d``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rshell.errors import Denied
from tests.bench.helpers import bench_settings, make_context, results_by_test, run_verb
from tests.ollama_server import FakeModel, FakeOllama

TRUE_PP, TRUE_TG = 1200.0, 40.0


@pytest.mark.parametrize(
    ("version", "reports_cached"),
    [("0.6.2", False), ("0.30.1", False), ("0.31.0", True)],
    ids=["count-excludes-cache", "count-includes-cache", "cached-count-reported"],
)
def test_pp_at_depth_times_only_the_prompt_and_equals_the_true_rate(
    tmp_path: Path, version: str, reports_cached: bool
) -> None:
    model = FakeModel("llama3.2:1b", prompt_rate=TRUE_PP, gen_rate=TRUE_TG)
    with FakeOllama([model], version=version, reports_cached=reports_cached) as server:
        argv = ["gpu1", "--runs", "2", "--pp", "128", "--tg", "16", "--depth", "1024", "--seed", "3"]
        outcome = run_verb(make_context(bench_settings(server.url), tmp_path), argv)
        bodies = server.generate_bodies()
    assert outcome.error is None, outcome.error
    tests = results_by_test(outcome.data)
    assert set(tests) == {"pp128@d1024", "tg16@d1024"}
    pp, tg = tests["pp128@d1024"], tests["tg16@d1024"]
    assert abs(pp["prompt_tps"]["mean"] - TRUE_PP) / TRUE_PP < 1e-6
    assert abs(tg["gen_tps"]["mean"] - TRUE_TG) / TRUE_TG < 1e-6
    # the measured prompt is about 128 tokens, not the 1024 of context before it
    assert 100 < pp["prompt_tokens_mean"] < 160
    # each timed request is its context, sent alone just before it, then the measured prompt
    prompts = [str(body["prompt"]) for body in bodies]
    timed = [i for i, prompt in enumerate(prompts) if i and prompt.startswith(prompts[i - 1] + " ")]
    assert len(timed) == 4
    assert all(900 < len(prompts[i - 1].split()) < 1100 for i in timed)
    assert {body["options"]["num_ctx"] for body in bodies} == {outcome.data["method"]["num_ctx"]}
    assert outcome.data["method"]["num_ctx"] >= 1024 + 128


def test_a_depth_above_the_policy_cap_is_denied_before_anything_is_sent(tmp_path: Path) -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        settings = bench_settings(server.url, max_depth=2048)
        outcome = run_verb(make_context(settings, tmp_path), ["gpu1", "--depth", "4096"])
        assert server.requests == []
    assert isinstance(outcome.error, Denied)
    assert "--depth 4096" in outcome.error.message
