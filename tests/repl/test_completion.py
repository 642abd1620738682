"""SpecCompleter fed Documents, as dbcli tests theirs: what kind of word fits, then which words.

Container names come from the real engine through a real Session built from a policy file.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.completion import CompleteEvent, Completion
from prompt_toolkit.document import Document

from rshell.completion import CACHE_SECONDS, Candidates, SpecCompleter
from rshell.session import local_session
from tests.support.engine import IMAGE, EngineContainers
from tests.support.shell import write_policy

VISIBLE = ("ansi", "app", "healthy", "labelled", "lines", "stopped")


def role_policy(directory: Path, containers: EngineContainers, verbs: str, settings: str = "") -> Path:
    """One role for root, seeing the session containers the shared ``policy`` fixture names."""
    names = ", ".join(containers.name(suffix) for suffix in ("app", "ansi", "healthy", "stopped", "lines"))
    body = f"""\
principals:
  users:
    root: tester
roles:
  tester:
    verbs: [{verbs}]
    containers:
      names: [{names}]
      labels:
        - rshell.visible: "true"
"""
    if settings:
        body += "    settings:\n" + textwrap.indent(textwrap.dedent(settings), "      ")
    return write_policy(directory, body)


def completer_for(policy: Path, clock: Any = time.monotonic) -> SpecCompleter:
    return SpecCompleter(Candidates(local_session(policy, "repl"), clock=clock))


def completions(completer: SpecCompleter, text: str) -> list[Completion]:
    return list(completer.get_completions(Document(text), CompleteEvent(completion_requested=True)))


def offered(completer: SpecCompleter, text: str) -> list[str]:
    return [completion.text for completion in completions(completer, text)]


def ours(names: list[str], containers: EngineContainers) -> list[str]:
    """Only this test session's containers (other sessions' labelled ones are visible too)."""
    return [name for name in names if name.startswith(containers.prefix + "-")]


@pytest.fixture
def operator(policy: Path) -> SpecCompleter:
    """The shared policy: root is an operator with ps, logs and restart."""
    return completer_for(policy)


@pytest.fixture
def viewer(tmp_path: Path, containers: EngineContainers) -> SpecCompleter:
    return completer_for(role_policy(tmp_path / "viewer", containers, "ps, logs"))


@pytest.fixture
def bencher(tmp_path: Path, containers: EngineContainers) -> SpecCompleter:
    settings = """\
        bench:
          targets:
            local:
              url: http://127.0.0.1:11434
              models: [llama3:8b, qwen2:7b]
        """
    return completer_for(role_policy(tmp_path / "bencher", containers, "bench, logs", settings))


# verbs


def test_an_empty_line_offers_the_verbs_the_role_may_use(viewer: SpecCompleter) -> None:
    assert offered(viewer, "") == ["exit", "help", "logs", "ps", "quit", "whoami"]


def test_a_verb_the_role_lacks_is_never_offered(viewer: SpecCompleter, operator: SpecCompleter) -> None:
    assert offered(viewer, "re") == []
    assert offered(operator, "re") == ["restart"]
    assert "restart" not in offered(viewer, "help ")
    assert "restart" in offered(operator, "help ")


def test_a_verb_the_role_lacks_gets_no_arguments_either(viewer: SpecCompleter) -> None:
    assert offered(viewer, "restart ") == []
    assert offered(viewer, "restart --") == []
    assert offered(viewer, "vram --") == []


def test_a_verb_completion_replaces_the_word_being_typed(operator: SpecCompleter) -> None:
    (completion,) = completions(operator, "lo")
    assert (completion.text, completion.start_position) == ("logs", -2)


# flags


def test_flags_of_the_verb_not_yet_used(operator: SpecCompleter) -> None:
    assert offered(operator, "logs --") == ["--tail", "--since", "--timestamps", "--follow", "--json", "--help"]
    assert offered(operator, "logs --tail 5 --follow --") == ["--since", "--timestamps", "--json", "--help"]
    (completion,) = completions(operator, "logs --ta")
    assert (completion.text, completion.start_position) == ("--tail", -4)


def test_a_repeatable_flag_is_offered_again(bencher: SpecCompleter) -> None:
    assert "--model" in offered(bencher, "bench local --model llama3:8b --")
    assert "--runs" not in offered(bencher, "bench local --runs 3 --")


# values


def test_values_of_a_choice_flag(bencher: SpecCompleter) -> None:
    assert offered(bencher, "bench local --test ") == ["pp512", "tg128", "all"]
    assert offered(bencher, "bench local --test t") == ["tg128"]


def test_bench_targets_and_their_models_from_the_policy(bencher: SpecCompleter) -> None:
    assert offered(bencher, "bench ") == ["local"]
    assert offered(bencher, "bench local --model ") == ["llama3:8b", "qwen2:7b"]
    assert offered(bencher, "bench local --model q") == ["qwen2:7b"]


def test_a_flag_value_of_a_free_kind_offers_nothing(operator: SpecCompleter) -> None:
    assert offered(operator, "logs --tail ") == []
    assert offered(operator, "logs --since ") == []


# container names: only the policy-visible set, from the real engine


def test_container_names_are_the_visible_set(operator: SpecCompleter, containers: EngineContainers) -> None:
    names = offered(operator, "logs ")
    assert ours(names, containers) == [containers.name(suffix) for suffix in VISIBLE]
    assert containers.name("hidden") not in names
    assert ours(offered(operator, "restart "), containers) == ours(names, containers)


def test_the_hidden_container_is_never_offered(operator: SpecCompleter, containers: EngineContainers) -> None:
    hidden = containers.client.containers.get(containers.name("hidden"))
    assert offered(operator, f"logs {containers.name('hi')}") == []
    assert offered(operator, f"logs {containers.name('h')}") == [containers.name("healthy")]
    assert offered(operator, f"logs {hidden.id[:8]}") == []  # nor by its ID


def test_a_container_completion_replaces_the_word_being_typed(
    operator: SpecCompleter, containers: EngineContainers
) -> None:
    typed = containers.name("ap")
    (completion,) = completions(operator, f"logs {typed}")
    assert (completion.text, completion.start_position) == (containers.name("app"), -len(typed))


def test_the_positional_after_a_flag_with_a_value(operator: SpecCompleter, containers: EngineContainers) -> None:
    app = [containers.name("app")]
    assert offered(operator, f"logs --tail 5 {containers.name('ap')}") == app
    assert offered(operator, f"logs --since 10m --tail 5 {containers.name('ap')}") == app
    assert offered(operator, f"logs --follow {containers.name('ap')}") == app  # a switch takes no value
    assert offered(operator, f"logs {containers.name('app')} --tail 5 ") == []  # the one positional is bound


def test_every_position_of_a_repeatable_positional_completes_container_names(
    tmp_path: Path, containers: EngineContainers
) -> None:
    watcher = completer_for(role_policy(tmp_path / "watcher", containers, "stats"))
    app, labelled = containers.name("app"), containers.name("labelled")
    every = [containers.name(suffix) for suffix in VISIBLE]
    assert ours(offered(watcher, "stats "), containers) == every
    assert ours(offered(watcher, f"stats {app} "), containers) == every
    assert offered(watcher, f"stats {app} {containers.name('la')}") == [labelled]
    assert offered(watcher, f"stats {app} --watch 2 {labelled} {containers.name('ap')}") == [app]
    assert offered(watcher, f"stats {app} {containers.name('hi')}") == []  # the hidden one, at any position
    assert offered(watcher, f"stats {app} --watch ") == []  # a flag's value is not a container


def test_nothing_for_unbalanced_quotes(operator: SpecCompleter, containers: EngineContainers) -> None:
    assert offered(operator, f'logs "{containers.name("ap")}') == []
    assert offered(operator, f"logs '{containers.name('ap')}") == []
    assert offered(operator, "'lo") == []


def test_an_unreachable_engine_offers_no_names_and_typing_goes_on(
    policy_dir: Path, containers: EngineContainers
) -> None:
    path = role_policy(policy_dir, containers, "ps, logs")
    path.write_text(path.read_text().replace("unix:///var/run/docker.sock", f"unix://{policy_dir}/no-engine.sock"))
    completer = completer_for(path)
    assert offered(completer, "logs ") == []
    assert offered(completer, "lo") == ["logs"]


def test_names_are_cached_briefly_then_refreshed(policy: Path, containers: EngineContainers) -> None:
    now = [0.0]
    completer = completer_for(policy, clock=lambda: now[0])
    late = containers.name("late")
    assert late not in offered(completer, "logs ")
    created = containers.client.containers.create(IMAGE, ["true"], name=late, labels={"rshell.visible": "true"})
    try:
        now[0] += CACHE_SECONDS / 2
        assert late not in offered(completer, "logs ")
        now[0] += CACHE_SECONDS
        assert late in offered(completer, "logs ")
    finally:
        created.remove(force=True)


def test_how_long_a_container_name_completion_takes(policy: Path, containers: EngineContainers) -> None:
    """Measured and printed, not asserted: the first Tab asks the engine, the next ones use the cache."""
    completer = completer_for(policy)
    text = f"logs {containers.name('ap')}"
    started = time.perf_counter()
    assert offered(completer, text) == [containers.name("app")]
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        offered(completer, text)
    warm = (time.perf_counter() - started) / 100
    total = len(containers.client.api.containers(all=True))
    print(
        f"\ncontainer-name completion: first {cold * 1000:.1f} ms (engine lists {total}), cached {warm * 1000:.3f} ms"
    )
