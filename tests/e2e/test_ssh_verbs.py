"""Verbs over a real ssh login: output, --json, and exit codes that reach the client unchanged."""

from __future__ import annotations

import json

import pytest

from tests.e2e.deployment import Deployment


def test_ps_lists_only_the_visible_container(deployment: Deployment) -> None:
    outcome = deployment.ssh("--", "ps")
    assert outcome.status == 0, outcome.stderr
    assert deployment.web in outcome.stdout
    assert deployment.hidden not in outcome.stdout


def test_ps_json_is_one_document(deployment: Deployment) -> None:
    outcome = deployment.ssh("--", "ps", "--json")
    assert outcome.status == 0, outcome.stderr
    names = json.dumps(json.loads(outcome.stdout))
    assert deployment.web in names
    assert deployment.hidden not in names


def test_logs_tail(deployment: Deployment) -> None:
    outcome = deployment.ssh("--", f"logs {deployment.web} --tail 3")
    assert outcome.status == 0, outcome.stderr
    assert outcome.stdout.split() == ["48", "49", "50"]


def test_restart(deployment: Deployment) -> None:
    outcome = deployment.ssh("--", "restart", deployment.web)
    assert outcome.status == 0, outcome.stderr
    assert deployment.ssh("--", f"logs {deployment.web} --tail 1").stdout.split() == ["50"]


def test_lines_on_stdin_without_a_terminal(deployment: Deployment) -> None:
    """``ssh -T host`` with no command: the shell reads lines from stdin (batch mode)."""
    outcome = deployment.ssh("-T", stdin=b"ps\nwhoami\n")
    assert outcome.status == 0, outcome.stderr
    assert deployment.web in outcome.stdout


@pytest.mark.parametrize(
    ("line", "status", "fragment"),
    [
        ("logs {hidden}", 126, "visible"),
        ("vram", 126, "does not allow"),
        ("bash", 127, "unknown"),
        ("ps --all-the-things", 2, ""),
        ("logs {web} --tail many", 2, ""),
    ],
)
def test_exit_codes_arrive_unchanged(deployment: Deployment, line: str, status: int, fragment: str) -> None:
    outcome = deployment.ssh("--", line.format(web=deployment.web, hidden=deployment.hidden))
    assert outcome.status == status, outcome.stderr
    assert outcome.stdout == ""
    assert outcome.stderr.startswith("rshell: "), outcome.stderr
    assert fragment in outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_json_errors_arrive_on_stderr(deployment: Deployment) -> None:
    outcome = deployment.ssh("--", f"logs {deployment.hidden} --json")
    assert outcome.status == 126
    assert json.loads(outcome.stderr)["error"]["code"] == "denied"
