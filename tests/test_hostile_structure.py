"""Hostile structure from any side is one clear line, never a crash: deep or huge JSON from ollama,
deep or self-expanding YAML in a policy, deep JSON lines on the broker protocol. One row per attack,
each run as a user would run it (a real process) and checked for its exit code and its one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rshell.protocol import ProtocolError, decode
from tests.ollama_server import FakeModel, FakeOllama
from tests.support.checks import refusal, success
from tests.support.shell import run_rshell, write_policy

POLICY = """\
principals:
  users:
    root: bencher
roles:
  bencher:
    verbs: [bench, vram]
    settings:
      bench:
        targets:
          gpu1: {{url: "{url}", models: [llama3.2:1b], run_timeout: 20s}}
"""
BENCH = "bench gpu1 --test tg128 --runs 1"
DEEP = 200_000
HUGE = 20 << 20

#: (name, hostile mode, path, command line, exit status, what the reply was, as the one line says)
OLLAMA = [
    ("ps nested 200,000 deep", "deep", "/api/ps", "vram", 0, "/api/ps: nested deeper than 64 levels"),
    ("ps of 20 MB", "oversize", "/api/ps", "vram", 0, "/api/ps: the response is larger than 4194304 bytes"),
    ("version nested", "deep", "/api/version", BENCH, 1, "/api/version: nested deeper than 64 levels"),
    ("tags nested", "deep", "/api/tags", BENCH, 1, "/api/tags: nested deeper than 64 levels"),
    ("tags of 20 MB", "oversize", "/api/tags", BENCH, 1, "/api/tags: the response is larger than 4194304 bytes"),
    ("show nested", "deep", "/api/show", BENCH, 1, "/api/show: nested deeper than 64 levels"),
    ("generate nested", "deep", "/api/generate", BENCH, 1, "/api/generate: nested deeper than 64 levels"),
    ("generate, 20 MB line", "oversize", "/api/generate", BENCH, 1, "/api/generate: the stream is larger than allowed"),
]


@pytest.mark.parametrize("row", OLLAMA, ids=[row[0] for row in OLLAMA])
def test_a_hostile_ollama_reply_is_one_line_for_that_target(
    tmp_path: Path, row: tuple[str, str, str, str, int, str]
) -> None:
    _name, mode, path, line, status, fragment = row
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        getattr(server, mode)[path] = DEEP if mode == "deep" else HUGE
        outcome = run_rshell(write_policy(tmp_path / "etc", POLICY.format(url=server.url)), "-c", line)
    expected = f"ollama at {server.url} sent an invalid reply ({fragment})"
    if status == 0:  # vram: the target is a problem line, the verb still reports the GPUs
        success(outcome)
        [problem] = [text for text in outcome.stdout.splitlines() if text.startswith("models: ")]
        assert problem == f"models: gpu1: {expected}", problem
    else:  # bench: its notice and progress may come first; the error is one line, and the last
        assert outcome.status == status, outcome
        assert "Traceback" not in outcome.stderr
        [error] = [text for text in outcome.stderr.splitlines() if text.startswith("rshell: ")]
        assert error == outcome.stderr.splitlines()[-1]
        assert error.startswith("rshell: bench gpu1: "), error
        assert error.endswith(expected), error


LAUGHS = "".join(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 10))
#: (name, policy text, what the one problem line says)
POLICIES = [
    ("a list nested 5,000 deep", "version: 1\nroles: " + "[" * 5000 + "]" * 5000 + "\n", ":2: nested deeper than 50"),
    ("a mapping nested 5,000 deep", "version: 1\nroles: " + "{a: " * 5000 + "}" * 5000 + "\n", ":2: nested deeper"),
    ("block nesting 1,000 deep", "".join(" " * n + f"k{n}:\n" for n in range(1000)), ":51: nested deeper than 50"),
    ("billion laughs", "version: 1\nl0: &l0 [lol]\n" + LAUGHS, ":2: anchors and aliases are not allowed"),
    ("2 MiB of YAML", "version: 1\nroles: {}\n" + "# padding\n" * 210_000, "larger than"),
]


def ctl_policy_check(path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-I", "-m", "rshell.ctl", "policy", "check", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd="/")


@pytest.mark.parametrize("row", POLICIES, ids=[row[0] for row in POLICIES])
def test_rshellctl_policy_check_reports_a_hostile_policy_in_one_line(tmp_path: Path, row: tuple[str, str, str]) -> None:
    _name, text, fragment = row
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    path.chmod(0o600)
    completed = ctl_policy_check(path)
    assert completed.returncode == 1, completed
    assert "Traceback" not in completed.stdout + completed.stderr
    assert "internal error" not in completed.stdout + completed.stderr
    *problems, summary = completed.stdout.splitlines()
    assert summary == f"{len(problems)} problem(s): the shell will refuse to start with this policy"
    assert problems, completed.stdout
    for problem in problems:  # one line; the size is also what the file check reports, in its own line
        assert problem.startswith(f"{path}"), problem
        assert fragment in problem, problem
    assert len(problems) == 1 or fragment == "larger than", problems


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_rshellctl_policy_check_of_a_fifo_or_a_device_is_one_line_not_a_hang(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "policy.yaml"
    if kind == "fifo":
        os.mkfifo(path, 0o600)  # nobody ever writes to it: opening it for reading would block
    else:
        path = Path("/dev/zero")  # endless
    completed = ctl_policy_check(path)
    assert completed.returncode == 1, completed
    assert completed.stdout == f"{path}: cannot read: [Errno 22] not a regular file\n"
    assert completed.stderr == ""


@pytest.mark.parametrize("row", POLICIES, ids=[row[0] for row in POLICIES])
def test_the_shell_refuses_to_start_on_a_hostile_policy_in_one_line(tmp_path: Path, row: tuple[str, str, str]) -> None:
    _name, text, fragment = row
    path = write_policy(tmp_path / "etc", "")
    path.write_text(text)
    refusal(run_rshell(path, "-c", "whoami"), 1, fragment)


@pytest.mark.parametrize(
    "line",
    [
        b"[" * DEEP + b"]" * DEEP + b"\n",
        b'{"v": 1, "op": "run", "line": ' + b"[" * 60_000 + b"\n",
        b'{"v": 1, "op": ' + b'{"a": ' * 60_000 + b"1" + b"}" * 60_000 + b"}\n",
    ],
    ids=["a list 200,000 deep", "an unterminated list 60,000 deep", "objects 60,000 deep"],
)
def test_a_deep_json_line_on_the_broker_protocol_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError, match=r"not JSON|too large"):
        decode(line, limit=len(line))
