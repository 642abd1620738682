"""models, load, unload and pull against the test ollama server: only the policy's models, a size cap, progress."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rshell.bench.lock import target_lock
from tests.ollama_server import FakeModel, FakeOllama
from tests.support.checks import refusal, success
from tests.support.shell import audit_records, run_rshell, write_policy

ALLOWED = "llama3.2:1b, qwen2.5:0.5b, huge:70b, absent:7b, gemma3:4b-cloud"
#: installed on the server but not in the policy: must never be shown or touched
UNLISTED = "secretmodel:8b"


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama([FakeModel("llama3.2:1b"), FakeModel(UNLISTED, family="qwen3")]) as server:
        server.pullable["qwen2.5:0.5b"] = [300_000_000, 1_000]
        server.pullable["huge:70b"] = [40 << 30]
        server.pullable[UNLISTED] = [1_000]
        yield server


@pytest.fixture
def models_policy(policy_dir: Path, ollama: FakeOllama) -> Path:
    body = f"""\
        principals:
          users:
            root: operator
        roles:
          operator:
            verbs: [models, load, unload, pull]
            limits:
              unload: {{count: 2, per: 10m}}
            settings:
              bench: {{targets: {{gpu1: {{url: '{ollama.url}', models: [{ALLOWED}]}}}}}}
              pull: {{max_size: 1GiB}}
        """
    return write_policy(policy_dir, textwrap.dedent(body))


def listed(policy: Path) -> dict[str, dict[str, object]]:
    rows = success(run_rshell(policy, "-c", "models gpu1 --json")).json()["models"]
    return {str(row["name"]): row for row in rows}


def test_models_shows_the_policy_models_only(models_policy: Path) -> None:
    rows = listed(models_policy)
    assert list(rows) == ["llama3.2:1b", "qwen2.5:0.5b", "huge:70b", "absent:7b"]  # no :cloud model
    installed = rows["llama3.2:1b"]
    assert (installed["installed"], installed["family"], installed["quantization"]) == (True, "llama", "Q8_0")
    assert (rows["absent:7b"]["installed"], rows["absent:7b"]["loaded"]) == (False, False)
    human = success(run_rshell(models_policy, "-c", "models gpu1")).stdout
    assert human.startswith("MODEL")
    assert UNLISTED not in human + str(rows)


def test_load_then_unload_change_what_is_loaded(models_policy: Path, policy_dir: Path, ollama: FakeOllama) -> None:
    loaded = success(run_rshell(models_policy, "-c", "load gpu1 llama3.2:1b --json")).json()
    assert (loaded["model"], loaded["state"], loaded["keep_alive_s"]) == ("llama3.2:1b", "loaded", 300.0)
    row = listed(models_policy)["llama3.2:1b"]
    assert (row["loaded"], row["gpu_percent"], row["context_length"]) == (True, 100, 4096)
    outcome = success(run_rshell(models_policy, "-c", "unload gpu1 llama3.2:1b"))
    assert outcome.stdout == "llama3.2:1b unloaded from gpu1\n"
    assert listed(models_policy)["llama3.2:1b"]["loaded"] is False
    bodies = ollama.generate_bodies()
    assert bodies == [
        {"model": "llama3.2:1b", "prompt": "", "keep_alive": 300, "stream": True},
        {"model": "llama3.2:1b", "prompt": "", "keep_alive": 0, "stream": True},
    ]
    phases = [(r["verb"], r["phase"]) for r in audit_records(policy_dir) if r["verb"] in ("load", "unload")]
    assert phases == [("load", "intent"), ("load", "done"), ("unload", "intent"), ("unload", "done")]


def test_pull_streams_progress_and_installs_the_model(models_policy: Path, ollama: FakeOllama) -> None:
    outcome = success(run_rshell(models_policy, "-c", "pull gpu1 qwen2.5:0.5b"))
    assert outcome.stdout.startswith("qwen2.5:0.5b pulled onto gpu1: 286.1 MiB in ")
    progress = outcome.stderr.splitlines()
    assert progress[0] == "pulling qwen2.5:0.5b onto gpu1 ..."
    assert "qwen2.5:0.5b: pulling manifest: 0/1" in progress
    assert progress[-1] == "qwen2.5:0.5b: success: 300001000/300001000"
    assert len(progress) < 20  # one line per status and per cent, not per update
    assert listed(models_policy)["qwen2.5:0.5b"]["installed"] is True
    document = success(run_rshell(models_policy, "-c", "pull gpu1 qwen2.5:0.5b --json")).json()
    assert (document["status"], document["size_bytes"]) == ("success", 300_001_000)


def test_pull_over_the_size_cap_is_stopped_and_installs_nothing(models_policy: Path, ollama: FakeOllama) -> None:
    outcome = run_rshell(models_policy, "-c", "pull gpu1 huge:70b --json")
    refusal(outcome, 126, "larger than the policy allows", json_error=True)
    deadline = time.monotonic() + 10
    while ollama.pulls_cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ollama.pulls_cancelled == 1  # the server saw the client leave mid-pull
    assert ollama.model("huge:70b") is None


@pytest.mark.parametrize(
    ("line", "status", "fragment"),
    [
        ("pull gpu1 " + UNLISTED, 126, "is not allowed on target 'gpu1'"),
        ("load gpu1 " + UNLISTED, 126, "is not allowed on target 'gpu1'"),
        ("unload gpu1 " + UNLISTED, 126, "is not allowed on target 'gpu1'"),
        ("load gpu1 gemma3:4b-cloud", 126, "is not allowed on target 'gpu1'"),
        ("models elsewhere", 126, "target 'elsewhere' is not in your policy"),
        ("pull history llama3.2:1b", 126, "target 'history' is not in your policy"),
        ("load gpu1 absent:7b", 1, "model 'absent:7b' not found"),
        ("pull gpu1 absent:7b", 1, "pull model manifest: file does not exist"),
        ("load gpu1", 2, "missing MODEL"),
        ("models", 2, "missing TARGET"),
    ],
    ids=["pull-unlisted", "load-unlisted", "unload-unlisted", "cloud", "unknown-target", "subcommand-word",
         "load-absent", "pull-absent", "no-model", "no-target"],
)  # fmt: skip
def test_refusals_are_one_line_and_never_reach_an_unlisted_model(
    line: str, status: int, fragment: str, models_policy: Path, ollama: FakeOllama
) -> None:
    refusal(run_rshell(models_policy, "-c", f"{line} --json"), status, fragment, json_error=True)
    touched = {str((request.body or {}).get("model")) for request in ollama.requests if request.body}
    assert UNLISTED not in touched


def test_unload_is_rate_limited_across_processes(models_policy: Path) -> None:
    for _ in range(2):
        success(run_rshell(models_policy, "-c", "unload gpu1 llama3.2:1b"))
    refusal(run_rshell(models_policy, "-c", "unload gpu1 llama3.2:1b"), 126, "limit")


@pytest.mark.parametrize("line", ["load gpu1 llama3.2:1b", "unload gpu1 llama3.2:1b", "pull gpu1 qwen2.5:0.5b"])
def test_nothing_changes_a_target_while_a_bench_runs_on_it(
    line: str, models_policy: Path, policy_dir: Path, ollama: FakeOllama
) -> None:
    with target_lock(policy_dir / "state", "gpu1"):  # what a running bench holds
        refusal(run_rshell(models_policy, "-c", line), 1, "is busy")
    assert not [request for request in ollama.requests if request.method == "POST"]
