"""The bench settings schema and the model rules read from it."""

from __future__ import annotations

import pytest
import yaml

from commands.bench import Bench
from rshell.bench.policy import is_cloud_model, normalize_model, target_policy
from rshell.policy.schema import Field, Kind, Problems, validate
from tests.bench.helpers import validated_settings


def problems_of(text: str) -> list[str]:
    problems = Problems("policy.yaml")
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    assert node is not None
    validate(node, Field("bench", Kind.OBJECT, fields=Bench.settings), "bench", problems)
    return problems.messages


@pytest.mark.parametrize("name", ["history", "compare"])
def test_a_target_may_not_be_named_like_a_sub_command(name: str) -> None:
    assert problems_of(f"targets:\n  {name}:\n    url: http://127.0.0.1:11434\n") == [
        f"policy.yaml:3: bench.targets: {name!r} is not a plain ASCII name"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("targets:\n  gpu1:\n    models: []\n", "missing required key 'url'"),
        ("targets:\n  gpu1:\n    url: ftp://x\n", "is not an http://, https:// or unix:// URL"),
        ("targets:\n  gpu1:\n    url: http://x\n    run_timeout: 30\n", "must be a duration"),
        ("targets:\n  gpu1:\n    url: http://x\n    pull: true\n", "unknown key 'pull'"),
    ],
)
def test_bad_target_settings_are_policy_errors(text: str, problem: str) -> None:
    assert any(problem in message for message in problems_of(text))


def test_defaults_apply_to_keys_the_policy_leaves_out() -> None:
    target = target_policy(validated_settings({"targets": {"gpu1": {"url": "http://h:11434"}}}), "gpu1")
    assert (target.models, target.max_prompt_tokens, target.max_tokens) == ((), 2048, 512)
    assert (target.run_timeout, target.total_timeout, target.allow_custom_prompts) == (120.0, 1800.0, False)


def test_durations_are_read_with_their_units() -> None:
    settings = validated_settings(
        {"targets": {"gpu1": {"url": "http://h", "run_timeout": "90s", "total_timeout": "1h"}}}
    )
    target = target_policy(settings, "gpu1")
    assert (target.run_timeout, target.total_timeout) == (90.0, 3600.0)


@pytest.mark.parametrize(
    ("model", "cloud"),
    [
        ("gpt-oss:120b-cloud", True),
        ("kimi-k2:cloud", True),
        ("llama3.2:1b", False),
        ("cloud", False),
        ("x/cloud:7b", False),
    ],
)
def test_cloud_models_are_recognised_by_their_tag(model: str, cloud: bool) -> None:
    assert is_cloud_model(model) is cloud


@pytest.mark.parametrize(
    ("model", "normal"),
    [("llama3.2", "llama3.2:latest"), ("llama3.2:1b", "llama3.2:1b"), ("ns/model", "ns/model:latest")],
)
def test_a_model_without_tag_means_latest(model: str, normal: str) -> None:
    assert normalize_model(model) == normal


def test_an_untagged_policy_entry_allows_the_latest_tag() -> None:
    target = target_policy({"targets": {"gpu1": {"url": "http://h", "models": ["llama3.2"]}}}, "gpu1")
    target.check_model("llama3.2:latest")
