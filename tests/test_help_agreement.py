"""A verb outside the role is unknown, however it is asked for: run, ``help VERB``, ``VERB --help``
or completion; and a principal with no role gets only ``help`` and ``exit``."""

from __future__ import annotations

from pathlib import Path

import pytest

from rshell.completion import Candidates, SpecCompleter
from rshell.session import local_session
from tests.repl.test_completion import offered
from tests.support.checks import refusal, success
from tests.support.shell import as_user, run_rshell, write_policy, write_shared_policy

#: root is a viewer (ps only); nobody has no role
VIEWER = "principals:\n  users: {root: viewer}\nroles:\n  viewer: {verbs: [ps]}\n"
NOBODY = as_user("nobody", "nogroup")


def unknown(name: str, hint: str = "") -> str:
    """The one answer for a verb the caller has not got (the hint only ever names one it has)."""
    return f"unknown verb {name!r}{hint} (type 'help' for the verbs you may use)"


#: (line, the name the answer quotes, hint): every way of asking about a verb the role lacks, and a made-up one
ASKED = [
    ("restart x --help", "restart", ""),
    ("restart --help", "restart", ""),
    ("restart --no-such-flag --help", "restart", ""),  # binding would describe the spec: it never runs
    ("restart --timeout nope x --help", "restart", ""),
    ("help restart", "restart", ""),
    ("logs x --tail 1 --help", "logs", ""),
    ("help logs", "logs", ""),
    ("frobnicate", "frobnicate", ""),
    ("frobnicate --help", "frobnicate", ""),
    ("help frobnicate", "frobnicate", ""),
    ("restar", "restar", ""),  # close to a verb the role lacks: no hint
    ("help restar", "restar", ""),
    ("pss", "pss", "; did you mean 'ps'?"),
    ("help pss", "pss", "; did you mean 'ps'?"),
]


@pytest.mark.parametrize(("line", "name", "hint"), ASKED, ids=[row[0] for row in ASKED])
def test_every_way_of_asking_about_a_verb_outside_the_role_gets_the_unknown_verb_answer(
    policy_dir: Path, line: str, name: str, hint: str
) -> None:
    path = write_policy(policy_dir, VIEWER)
    assert refusal(run_rshell(path, "-c", line), 127) == unknown(name, hint)
    assert refusal(run_rshell(path, "-c", f"{line} --json"), 127, json_error=True) == unknown(name, hint)


def test_a_verb_in_the_role_has_the_same_help_both_ways(policy_dir: Path) -> None:
    path = write_policy(policy_dir, VIEWER)
    flagged = success(run_rshell(path, "-c", "ps --help")).stdout
    assert flagged.startswith("usage: ps")
    assert success(run_rshell(path, "-c", "help ps")).stdout == flagged


def test_completion_offers_nothing_of_a_verb_outside_the_role(policy_dir: Path) -> None:
    completer = SpecCompleter(Candidates(local_session(write_policy(policy_dir, VIEWER), "repl")))
    assert offered(completer, "") == ["exit", "help", "ps", "quit", "whoami"]
    assert offered(completer, "re") == []
    assert offered(completer, "restart --") == []
    assert offered(completer, "help ") == ["exit", "help", "ps", "quit", "whoami"]


#: what a principal without a role may still run, and what it gets
ROLELESS = [
    ("whoami", 126, "user 'nobody' has no role in the policy"),
    ("whoami --json", 126, "user 'nobody' has no role in the policy"),
    ("ps", 126, "user 'nobody' has no role in the policy"),
    ("whoami --help", 127, unknown("whoami")),
    ("help whoami", 127, unknown("whoami")),
    ("help ps", 127, unknown("ps")),
]


@pytest.mark.parametrize(("line", "status", "message"), ROLELESS, ids=[row[0] for row in ROLELESS])
def test_a_principal_without_a_role_is_refused_all_but_help_and_exit(
    public_dir: Path, line: str, status: int, message: str
) -> None:
    path, _ = write_shared_policy(public_dir, VIEWER, writer_uid=65534)
    outcome = run_rshell(path, "-c", line, prefix=NOBODY)
    assert refusal(outcome, status, json_error="--json" in line) == message
    assert outcome.stdout == ""


def test_help_tells_a_principal_without_a_role_that_it_has_none(public_dir: Path) -> None:
    path, _ = write_shared_policy(public_dir, VIEWER, writer_uid=65534)
    shown = success(run_rshell(path, "-c", "help", prefix=NOBODY)).stdout
    assert "You have no role: user 'nobody' has no role in the policy; only help and exit are available." in shown
    assert [line.split()[0] for line in shown.splitlines()[1:4]] == ["exit", "help", "quit"]
    assert "whoami" not in shown
    assert success(run_rshell(path, "-c", "exit", prefix=NOBODY)).stdout == ""
