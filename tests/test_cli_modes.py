"""The shell's modes as sshd and scripts use them: -c, batch stdin (stop at the first failure or --keep-going), exit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.checks import refusal, success
from tests.support.engine import EngineContainers
from tests.support.shell import RSHELL, audit_records, run_rshell


def test_batch_runs_every_line(policy: Path, policy_dir: Path, containers: EngineContainers) -> None:
    outcome = success(run_rshell(policy, stdin=f"ps\nlogs {containers.name('lines')} --tail 2\n"))
    assert outcome.stdout.startswith("NAME ")
    assert outcome.stdout.endswith("4999\n5000\n")
    assert [(record["verb"], record["mode"]) for record in audit_records(policy_dir)] == [
        ("ps", "batch"),
        ("logs", "batch"),
    ]


@pytest.mark.parametrize(
    ("stdin", "status", "ran"),
    [
        ("ps\nnope\nps\n", 127, ["ps", "nope"]),
        ("ps --bogus\nps\n", 2, ["ps"]),
        ("logs HIDDEN\nps\n", 126, ["logs"]),
        ("ps\nps && id\nps\n", 2, ["ps", None]),
        ("whoami\nlogs APP --tail 9999\nps\n", 126, ["whoami", "logs"]),
    ],
)
def test_batch_stops_at_the_first_failure_with_its_code(
    policy: Path, policy_dir: Path, containers: EngineContainers, *, stdin: str, status: int, ran: list[str | None]
) -> None:
    text = stdin.replace("HIDDEN", containers.name("hidden")).replace("APP", containers.name("app"))
    refusal(run_rshell(policy, stdin=text), status)
    assert [record["verb"] for record in audit_records(policy_dir)] == ran


def test_keep_going_runs_all_and_exits_with_the_last_failure(policy: Path, policy_dir: Path) -> None:
    outcome = run_rshell(policy, "--keep-going", stdin="nope\nps --bogus\nps\n")
    assert outcome.status == 2
    assert len(outcome.stderr.splitlines()) == 2
    assert "Traceback" not in outcome.stderr
    assert [record["exit_code"] for record in audit_records(policy_dir)] == [127, 2, 0]


@pytest.mark.parametrize(
    ("stdin", "status", "ran"),
    [
        ("ps\nexit\nps\n", 0, ["ps"]),
        ("ps\nquit\nps\n", 0, ["ps"]),
        ("  exit  \nps\n", 0, []),
        ("exit\n", 0, []),
        ("", 0, []),
        ("\n\n   \n", 0, []),
    ],
)
def test_exit_stops_batch(policy: Path, policy_dir: Path, stdin: str, status: int, ran: list[str]) -> None:
    outcome = run_rshell(policy, stdin=stdin)
    assert outcome.status == status, outcome.stderr
    assert [record["verb"] for record in audit_records(policy_dir)] == ran


def test_exit_after_a_failure_keeps_its_code(policy: Path) -> None:
    assert run_rshell(policy, "--keep-going", stdin="nope\nexit\nps\n").status == 127


def test_crlf_lines_are_accepted(policy: Path) -> None:
    success(run_rshell(policy, stdin=b"ps --json\r\nwhoami\r\n"))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("-c",), "-c needs a command"),
        (("-c", "ps", "extra"), "takes exactly one command string"),
        (("--bogus",), "unknown option '--bogus'"),
        (("-c", "ps", "-c", "whoami"), "takes exactly one command string"),
    ],
)
def test_rshell_own_options_are_usage_errors(policy: Path, args: tuple[str, ...], fragment: str) -> None:
    outcome = run_rshell(policy, *args)
    assert outcome.status == 2
    assert "Traceback" not in outcome.stderr
    assert outcome.stderr.startswith("rshell: ")
    assert fragment in outcome.stderr.splitlines()[0]


def test_dash_c_exit_and_blank_succeed(policy: Path) -> None:
    success(run_rshell(policy, "-c", "exit"))
    success(run_rshell(policy, "-c", "   "))


def test_json_is_one_document(policy: Path) -> None:
    outcome = success(run_rshell(policy, "-c", "whoami --json"))
    assert outcome.stdout.count("\n") == 1
    assert outcome.json()["user"] == "root"


def test_dash_c_does_not_import_prompt_toolkit(policy: Path) -> None:
    completed = subprocess.run(
        [*RSHELL[:2], "-X", "importtime", *RSHELL[2:], "--policy", str(policy), "-c", "ps"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0
    assert b"prompt_toolkit" not in completed.stderr
