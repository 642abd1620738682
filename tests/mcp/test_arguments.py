"""Tool-call arguments back to argv: one row per call, hostile ones included, with what the core sees."""

from __future__ import annotations

import re
from typing import Any

import pytest

from commands.bench import Bench
from commands.logs import Logs
from commands.ps import Ps
from commands.restart import Restart
from commands.stats import Stats
from rshell.binding import bind
from rshell.errors import UsageError
from rshell.mcp.arguments import argv_for
from rshell.verb import Verb

GOOD: list[tuple[Verb, dict[str, Any] | None, tuple[str, ...]]] = [
    (Ps(), None, ()),
    (Ps(), {"all": False}, ()),
    (Ps(), {"all": True}, ("--all",)),
    (Logs(), {"container": "app", "tail": 5}, ("--tail", "5", "--", "app")),
    (Logs(), {"container": "app", "since": "10m", "follow": True}, ("--since", "10m", "--follow", "--", "app")),
    (Logs(), {"container": "app", "tail": None}, ("--", "app")),
    (Restart(), {"container": "-rf"}, ("--", "-rf")),
    (Logs(), {"container": "app", "since": "--follow"}, ("--since", "--follow", "--", "app")),
    (Bench(), {"target": "gpu1", "model": ["a:1b", "b:7b"]}, ("--model", "a:1b", "--model", "b:7b", "--", "gpu1")),
    (Bench(), {"target": "compare", "run_a": "x", "run_b": "y"}, ("--", "compare", "x", "y")),
    (Stats(), {"container": ["web", "-odd", "api"]}, ("--", "web", "-odd", "api")),
    (Stats(), {"container": [], "watch": 2}, ("--watch", "2")),
    (Stats(), {"container": None}, ()),
]

REFUSED: list[tuple[Verb, dict[str, Any], str]] = [
    (Ps(), {"json": True}, "ps: unknown argument 'json'"),
    (Ps(), {"help": True}, "ps: unknown argument 'help'"),
    (Ps(), {"all": "yes"}, "ps: all must be true or false"),
    (Logs(), {"container": "app", "tail": "5"}, "logs: tail must be a whole number"),
    (Logs(), {"container": "app", "tail": True}, "logs: tail must be a whole number"),
    (Logs(), {"container": "app", "tail": 1.5}, "logs: tail must be a whole number"),
    (Logs(), {"container": ["app"]}, "logs: container must be a string"),
    (Logs(), {"container": "app\nps"}, "newlines are not allowed"),
    (Logs(), {"container": "app\x1b[2J"}, "control character U+001B"),
    (Bench(), {"target": "gpu1", "prompt": "x" * 5000}, "the line is longer than 4096 bytes"),
    (Bench(), {"target": "gpu1", "model": "a:1b"}, "bench: model must be a list"),
    (Bench(), {"target": "compare", "run_b": "y"}, "bench: run_b needs run_a as well"),
    (Stats(), {"container": "web"}, "stats: container must be a list"),
    (Stats(), {"container": ["web", 7]}, "stats: container must be a string"),
    (Stats(), {"container": ["web\nps"]}, "newlines are not allowed"),
]


@pytest.mark.parametrize(("verb", "arguments", "argv"), GOOD)
def test_arguments_become_the_words_a_user_would_type(
    verb: Verb, arguments: dict[str, Any] | None, argv: tuple[str, ...]
) -> None:
    assert argv_for(verb, arguments) == argv


def test_a_positional_starting_with_a_dash_stays_a_positional() -> None:
    bound = bind("restart", Restart.spec, argv_for(Restart(), {"container": "--help"}))
    assert bound.text("container") == "--help"
    assert not bound.switch("help")


@pytest.mark.parametrize(("verb", "arguments", "message"), REFUSED)
def test_malformed_arguments_are_usage_errors(verb: Verb, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        argv_for(verb, arguments)
