"""A running ``pull`` is decided again while it downloads: when the role loses ``pull`` it stops with
126 and one line, the connection is closed (which cancels the pull on the server) and the target's
lock is free. In-process through ``execute`` with a session that re-reads the policy file at each
``current()``, as the broker's does after SIGHUP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rshell.bench.lock import target_lock
from rshell.errors import Denied, ExitStatus, RshellError
from rshell.events import Progress
from rshell.executor import execute
from rshell.lexer import Request
from tests.bench.test_bench_revoked import rereading
from tests.broker.harness import wait_for
from tests.ollama_server import FakeModel, FakeOllama
from tests.support.shell import write_policy

POLICY = """\
principals:
  users:
    root: operator
roles:
  operator:
    verbs: [{verbs}]
    settings:
      bench: {{targets: {{gpu1: {{url: '{url}', models: [slow:1b]}}}}}}
"""
#: 200 layers at 4 updates of 0.01 s each: some 8 s of progress, far more than a re-check takes
LAYERS = [1_000] * 200


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        server.pullable["slow:1b"] = LAYERS
        yield server


def test_a_pull_stops_with_126_when_the_role_loses_pull(tmp_path: Path, ollama: FakeOllama) -> None:
    etc = tmp_path / "etc"
    path = write_policy(etc, POLICY.format(verbs="pull", url=ollama.url))
    error: RshellError | None = None
    updates = 0
    try:
        for event in execute(rereading(path), Request("pull", ("gpu1", "slow:1b"))):
            updates += isinstance(event, Progress)
            if updates == 3:  # the download is under way: the admin takes pull away
                write_policy(etc, POLICY.format(verbs="models", url=ollama.url))
    except RshellError as raised:
        error = raised
    assert isinstance(error, Denied), error
    assert (error.status, error.message) == (ExitStatus.DENIED, "pull: stopped: role 'operator' does not allow 'pull'")
    assert ollama.model("slow:1b") is None  # never installed
    assert wait_for(lambda: ollama.pulls_cancelled == 1, 10)
    with target_lock(etc / "state", "gpu1"):
        pass
