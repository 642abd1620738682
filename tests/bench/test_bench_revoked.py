"""A running bench is decided again while it runs: when the role loses ``bench`` or the target, it
stops with 126 and one line, keeps what it measured (partial) and releases the target's lock.

In-process through ``execute`` with a session whose ``current()`` reads the policy file again, as
the broker's does after SIGHUP (rshell/broker/state.py): the same re-check, the same code path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from rshell.bench.history import BenchHistory, HistoryScope
from rshell.bench.lock import target_lock
from rshell.bench.policy import normalize_model
from rshell.errors import Denied, ExitStatus, RshellError
from rshell.events import Progress
from rshell.executor import Session, execute
from rshell.lexer import Request
from rshell.session import local_session
from tests.ollama_server import FakeModel, FakeOllama
from tests.support.shell import write_policy

POLICY = """\
principals:
  users:
    root: bencher
roles:
  bencher:
    verbs: [{verbs}]
    settings:
      bench:
        targets:
{targets}
"""
TARGET = '          {name}: {{url: "{url}", models: [llama3.2:1b], run_timeout: 30s, total_timeout: 120s}}'
LINE = ("gpu1", "--test", "tg128", "--runs", "40")
#: (what changes, the role's verbs and targets after it, the reason the bench stops with)
CHANGES = [
    ("verb-removed", "ps", ("gpu1",), "role 'bencher' does not allow 'bench'"),
    ("target-removed", "bench", ("gpu2",), "bench target 'gpu1' is no longer in your policy"),
]


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama([FakeModel("llama3.2:1b", token_interval=0.004)]) as server:  # ~0.5 s per run
        yield server


def policy_body(url: str, verbs: str, targets: tuple[str, ...]) -> str:
    return POLICY.format(verbs=verbs, targets="\n".join(TARGET.format(name=name, url=url) for name in targets))


def rereading(path: Path) -> Session:
    """A local session that, like the broker's, is rebuilt from the policy file at every ``current()``."""
    session = local_session(path, "c")

    def renew(old: Session) -> Session:
        return dataclasses.replace(local_session(path, old.mode), cancel=old.cancel, renew=renew)

    return dataclasses.replace(session, renew=renew)


@pytest.mark.parametrize(
    ("verbs", "targets", "reason"), [change[1:] for change in CHANGES], ids=[c[0] for c in CHANGES]
)
def test_a_bench_stops_with_126_when_the_role_loses_bench_or_its_target(
    tmp_path: Path, ollama: FakeOllama, verbs: str, targets: tuple[str, ...], reason: str
) -> None:
    etc = tmp_path / "etc"
    path = write_policy(etc, policy_body(ollama.url, "bench", ("gpu1", "gpu2")))
    events = execute(rereading(path), Request("bench", LINE))
    timed = 0
    error: RshellError | None = None
    try:
        for event in events:
            if isinstance(event, Progress) and "run " in event.label:
                timed += 1
                if timed == 2:  # two timed runs in: the admin takes the right away
                    write_policy(etc, policy_body(ollama.url, verbs, targets))
    except RshellError as raised:
        error = raised
    assert isinstance(error, Denied), error
    assert error.status == ExitStatus.DENIED
    assert error.message.startswith(f"bench gpu1: stopped: {reason} (partial results kept as run ")
    assert timed < 40, "the bench ran to its end"
    run_id = error.message.rsplit(" ", 1)[-1].rstrip(")")
    kept = BenchHistory(etc / "state").load(run_id, HistoryScope({"gpu1": frozenset({normalize_model("llama3.2:1b")})}))
    assert kept["partial"] is True
    assert kept["partial_reason"] == f"bench gpu1: stopped: {reason}"
    with target_lock(etc / "state", "gpu1"):  # free again: the next bench may run
        pass
