"""Stored bench results are scoped by the reader's role: two roles, one state directory.

A run on a target the reader's role does not list, or with a model it may not benchmark there,
never appears in ``bench history``, and ``bench compare`` answers for it exactly as for a run id
that was never recorded (same message, same exit status).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rshell.errors import ExitStatus
from tests.bench.helpers import Outcome, human_text, make_context, run_verb, validated_settings
from tests.ollama_server import FakeModel, FakeOllama

NEVER_RECORDED = "20990101-000000-abcdef"


def settings(targets: dict[str, list[str]], url: str) -> dict[str, object]:
    """Bench settings listing ``targets`` (name -> models), all at ``url``."""
    return validated_settings({"targets": {name: {"url": url, "models": models} for name, models in targets.items()}})


def bench(state_dir: Path, role: dict[str, object], target: str, model: str) -> str:
    outcome = run_verb(make_context(role, state_dir), [target, "--model", model, "--runs", "1", "--test", "tg128"])
    assert outcome.error is None, outcome.error
    return str(outcome.data["run_id"])


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, str]:
    """Runs by three roles on one state dir: the viewer's own, another target's, a model it may not use."""
    with FakeOllama([FakeModel("llama3.2:1b"), FakeModel("qwen3:4b")]) as server:
        secret = settings({"secret-target": ["llama3.2:1b"]}, server.url)
        wider = settings({"public": ["llama3.2:1b", "qwen3:4b"]}, server.url)
        return {
            "own": bench(tmp_path, settings({"public": ["llama3.2:1b"]}, server.url), "public", "llama3.2:1b"),
            "other_target": bench(tmp_path, secret, "secret-target", "llama3.2:1b"),
            "other_model": bench(tmp_path, wider, "public", "qwen3:4b"),
        }


#: the reader: a viewer whose only bench target is ``public``, with one model
VIEWER = settings({"public": ["llama3.2:1b"]}, "http://127.0.0.1:1")


def shown(outcome: Outcome) -> str:
    """Everything the caller sees: the JSON document and the human rendering."""
    return json.dumps(outcome.data) + human_text(outcome.result)


@pytest.mark.parametrize(
    "argv",
    [
        ["history"],
        ["history", "--model", "llama3.2:1b"],
        ["history", "--model", "qwen3:4b"],
        ["history", "--limit", "1"],
    ],
)
def test_history_shows_only_the_readers_targets_and_models(
    tmp_path: Path, runs: dict[str, str], argv: list[str]
) -> None:
    outcome = run_verb(make_context(VIEWER, tmp_path), argv)
    assert outcome.error is None
    listed = [run["run_id"] for run in outcome.data["runs"]]
    assert listed == ([] if "qwen3:4b" in argv else [runs["own"]])
    for hidden in ("secret-target", "qwen3", runs["other_target"], runs["other_model"]):
        assert hidden not in shown(outcome)


def test_the_role_that_made_a_run_still_sees_it(tmp_path: Path, runs: dict[str, str]) -> None:
    secret = settings({"secret-target": ["llama3.2:1b"]}, "http://127.0.0.1:1")
    outcome = run_verb(make_context(secret, tmp_path), ["history"])
    assert [run["run_id"] for run in outcome.data["runs"]] == [runs["other_target"]]


#: (what the viewer names as run A, why it must look like a run that does not exist)
HIDDEN_RUNS = [
    ("other_target", "a run on a target the role does not list"),
    ("other_model", "a run on the role's own target with a model the role may not benchmark"),
]


@pytest.mark.parametrize(("which", "why"), HIDDEN_RUNS, ids=[row[0] for row in HIDDEN_RUNS])
def test_compare_with_a_hidden_run_answers_as_for_one_never_recorded(
    tmp_path: Path, runs: dict[str, str], which: str, why: str
) -> None:
    ctx = make_context(VIEWER, tmp_path)
    hidden = run_verb(ctx, ["compare", runs[which], runs["own"]])
    missing = run_verb(ctx, ["compare", NEVER_RECORDED, runs["own"]])
    assert hidden.error is not None, why
    assert missing.error is not None
    assert hidden.events == missing.events == []
    assert hidden.error.status == missing.error.status == ExitStatus.FAILED
    assert hidden.error.message.replace(runs[which], NEVER_RECORDED) == missing.error.message
    assert run_verb(ctx, ["compare", runs["own"], runs["own"]]).error is None
