"""Argument binding: every word is checked against the verb's spec; nothing unknown is passed on (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.logs import Logs
from commands.stats import Stats
from rshell.binding import bind
from rshell.errors import UsageError
from rshell.spec import ArgKind, Positional, VerbSpec
from tests.support.checks import refusal
from tests.support.engine import EngineContainers
from tests.support.shell import audit_records, run_rshell

#: (line with APP for a visible container, fragment of the one-line error)
BAD_ARGUMENTS = [
    ("ps --bogus", "unknown option '--bogus'"),
    ("ps -a", "unknown option '-a'"),
    ("ps --al", "unknown option '--al'"),
    ("ps --ALL", "unknown option '--ALL'"),
    ("ps --all=yes", "--all takes no value"),
    ("ps --all --all --filter name=x", "unknown option '--filter'"),
    ("ps APP -- --all", "unexpected argument '--all'"),  # ps takes one SERVICE at most
    ("ps APP OTHER", "unexpected argument 'OTHER'"),
    ("ps --format {{.Names}}", "unknown option '--format'"),
    ("logs", "missing CONTAINER"),
    ("logs --tail 5", "missing CONTAINER"),
    ("logs APP extra", "unexpected argument 'extra'"),
    ("logs APP APP", "unexpected argument"),
    ("logs -f APP", "unknown option '-f'"),
    ("logs APP -n 5", "unknown option '-n'"),
    ("logs APP --details", "unknown option '--details'"),
    ("logs --privileged APP", "unknown option '--privileged'"),
    ("logs APP --tail", "--tail needs a value"),
    ("logs APP --tail abc", "must be a whole number, not 'abc'"),
    ("logs APP --tail=-1", "must be a whole number, not '-1'"),
    ("logs APP --tail -1", "must be a whole number, not '-1'"),
    ("logs APP --tail 0", "--tail must be at least 1"),
    ("logs APP --tail 1.5", "must be a whole number"),
    ("logs APP --tail 0x10", "must be a whole number"),
    ("logs APP --tail 1e3", "must be a whole number"),
    ("logs APP --tail \uff13", "must be a whole number"),
    ("logs APP --tail ٣", "must be a whole number"),
    ("logs APP --tail ''", "must be a whole number"),
    ("logs APP --tail=5=6", "must be a whole number"),
    ("logs APP --tail 1 --tail 2", "--tail given twice"),
    ("logs APP --tail=1 --tail=1", "--tail given twice"),
    ("logs APP --since 10", "'10' is not a duration"),
    ("logs APP --since=-1m", "is not a duration"),
    ("logs APP --since 1y", "is not a duration"),
    ("logs APP --since 10m10", "is not a duration"),
    ("logs APP --since 400d", "longer than a year"),
    ("logs APP --since 1h --since 2h", "--since given twice"),
    ("logs APP --follow=yes", "--follow takes no value"),
    ("logs APP --json=1", "--json takes no value"),
    ("logs " + "a" * 300, "longer than 256 characters"),
    ("logs ''", "must not be empty"),
    ("restart APP --timeout 0", "--timeout must be at least 1"),
    ("restart APP --timeout soon", "must be a whole number"),
    ("restart APP --force", "unknown option '--force'"),
    ("restart APP -t 1", "unknown option '-t'"),
    ("help ps extra", "unexpected argument 'extra'"),
    ("whoami --verbose", "unknown option '--verbose'"),
]


@pytest.mark.parametrize(("line", "fragment"), BAD_ARGUMENTS)
def test_bad_arguments_exit_2_before_anything_runs(
    policy: Path, policy_dir: Path, containers: EngineContainers, line: str, fragment: str
) -> None:
    outcome = run_rshell(policy, "-c", line.replace("APP", containers.name("app")))
    refusal(outcome, 2, fragment)
    assert outcome.stdout == ""
    (record,) = audit_records(policy_dir)
    assert record["exit_code"] == 2
    assert record["targets"] == [], "a usage error must not resolve (or act on) any target"


@pytest.mark.parametrize(("line", "fragment"), BAD_ARGUMENTS[:12])
def test_bad_arguments_are_json_errors_with_json(
    policy: Path, containers: EngineContainers, line: str, fragment: str
) -> None:
    outcome = run_rshell(policy, "-c", line.replace("APP", containers.name("app")) + " --json")
    refusal(outcome, 2, fragment, json_error=True)


def test_bind_converts_every_kind() -> None:
    args = bind("logs", Logs.spec, ["app", "--tail=5", "--since", "1h30m", "--timestamps", "--json"])
    assert args.values == {
        "container": "app",
        "tail": 5,
        "since": 5400.0,
        "timestamps": True,
        "follow": False,
        "service": False,
        "json": True,
        "help": False,
    }


def test_double_dash_makes_the_rest_positional() -> None:
    assert bind("logs", Logs.spec, ["--", "-weird"]).get("container") == "-weird"


def test_policy_caps_what_binding_accepts(policy: Path, containers: EngineContainers) -> None:
    """A huge number binds as a number; the policy, not the parser, then refuses it (126, not a crash)."""
    outcome = run_rshell(policy, "-c", f"logs {containers.name('lines')} --tail 99999999999999999999999")
    refusal(outcome, 126, "more than your policy allows (2000 lines)")


# a repeatable positional (``stats [CONTAINER ...]``): every word after the others, each once, capped

#: a verb whose repeatable positional is required: ``check TARGET CONTAINER ...``
CHECK = VerbSpec(
    positionals=(
        Positional("target", ArgKind.TEXT, "a word"),
        Positional("container", ArgKind.CONTAINER, "containers", repeat=True, max_count=3),
    ),
)


def test_a_repeatable_positional_keeps_the_order_given_and_each_word_once() -> None:
    assert bind("stats", Stats.spec, ["web", "api", "web", "--watch", "2", "db"]).many("container") == (
        "web",
        "api",
        "db",
    )
    assert bind("stats", Stats.spec, ["--", "-odd", "web"]).many("container") == ("-odd", "web")
    assert bind("stats", Stats.spec, []).many("container") == ()
    assert bind("check", CHECK, ["t", "a", "b"]).values["container"] == ("a", "b")


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["t"], "check: missing CONTAINER (usage: check TARGET CONTAINER ... [--json])"),
        (["t", "a", "b", "c", "d"], "check: at most 3 CONTAINER arguments, not 4"),
        (["t", "a", "a", "a", "a"], "check: at most 3 CONTAINER arguments, not 4"),  # counted as typed
        (["t", "a", ""], "check: CONTAINER must not be empty"),
        (["t", "a", "x" * 300], "check: CONTAINER is longer than 256 characters"),
    ],
)
def test_a_repeatable_positional_refuses_in_one_line(words: list[str], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        bind("check", CHECK, words)
    assert raised.value.message == message


def test_only_the_last_positional_may_repeat() -> None:
    first = Positional("container", ArgKind.CONTAINER, "containers", repeat=True)
    with pytest.raises(ValueError, match="only the last positional may repeat"):
        VerbSpec(positionals=(first, Positional("target", ArgKind.TEXT, "a word")))
