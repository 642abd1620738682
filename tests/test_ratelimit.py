"""Limits hold across separate processes, even concurrent ones, for every verb that names them; their
state survives a crash or a rename and fails closed when it cannot be read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from rshell.errors import Denied
from rshell.policy.loader import parse_policy
from rshell.policy.model import RateLimit
from rshell.policy.schema import Problems
from rshell.ratelimit import RateLimiter
from rshell.registry import Registry
from tests.support.checks import refusal, success
from tests.support.engine import EngineContainers
from tests.support.policies import role_policy
from tests.support.shell import RSHELL, as_user, audit_records, run_rshell, write_shared_policy

SERVE = "trap 'exit 0' TERM; while true; do sleep 0.1; done"


def _make(containers: EngineContainers) -> Any:
    return containers.run(f"rl{time.monotonic_ns()}", SERVE, labels={"rshell.visible": "true"})


def test_fourth_restart_in_separate_processes_is_denied_with_retry_time(
    policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    target = _make(containers)
    for _ in range(3):
        success(run_rshell(policy, "-c", f"restart {target.name}"))
    started = containers.client.api.inspect_container(target.id)["State"]["StartedAt"]
    outcome = run_rshell(policy, "-c", f"restart {target.name}")
    message = refusal(outcome, 126, f"rate limit: restart {target.name} is allowed 3 times per 10m; try again in ")
    assert message.endswith(("s", "m"))
    assert containers.client.api.inspect_container(target.id)["State"]["StartedAt"] == started
    records = audit_records(policy_dir)
    assert [record["phase"] for record in records].count("intent") == 3
    assert (records[-1]["decision"], records[-1]["exit_code"]) == ("denied", 126)


@pytest.fixture
def once_per_hour(policy: Path) -> Path:
    """The session policy with restart limited to once an hour, so these tests restart little."""
    policy.write_text(policy.read_text().replace("restart: {count: 3, per: 10m}", "restart: {count: 1, per: 1h}"))
    return policy


def test_the_limit_is_per_container(once_per_hour: Path, containers: EngineContainers) -> None:
    first, second = _make(containers), _make(containers)
    success(run_rshell(once_per_hour, "-c", f"restart {first.name}"))
    refusal(run_rshell(once_per_hour, "-c", f"restart {first.name}"), 126, "allowed 1 times per 1h")
    success(run_rshell(once_per_hour, "-c", f"restart {second.name}"))


@pytest.mark.parametrize("reference", ["short-id", "full-id", "prefix"])
def test_every_name_for_a_container_counts_against_it(
    once_per_hour: Path, containers: EngineContainers, reference: str
) -> None:
    target = _make(containers)
    success(run_rshell(once_per_hour, "-c", f"restart {target.name}"))
    text = {"short-id": target.id[:12], "full-id": target.id, "prefix": target.id[:6]}[reference]
    refusal(run_rshell(once_per_hour, "-c", f"restart {text}"), 126, f"rate limit: restart {target.name} ")


def test_twenty_concurrent_restarts_let_exactly_three_act(
    policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    target = _make(containers)
    command = [*RSHELL, "--policy", str(policy), "-c", f"restart {target.name} --json"]
    processes = [
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(20)
    ]
    results = [(process.wait(timeout=90), process.stderr.read().decode()) for process in processes if process.stderr]
    for process in processes:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        process.stderr.close()
    denied = [stderr for status, stderr in results if status == 126]
    assert len(denied) == 17, results
    assert all('"rate limit: restart' in stderr and "Traceback" not in stderr for stderr in denied)
    records = audit_records(policy_dir)
    assert sum(record["phase"] == "intent" for record in records) == 3
    assert len([record for record in records if record["phase"] == "done"]) == 20


def test_window_slides(tmp_path: Path) -> None:
    now = [1000.0]
    limiter = RateLimiter(tmp_path, clock=lambda: now[0])
    limit = RateLimit(count=2, per_seconds=60)
    limiter.acquire("restart", "app", limit)
    now[0] += 30
    limiter.acquire("restart", "app", limit)
    with pytest.raises(Denied, match="try again in 30s"):
        limiter.acquire("restart", "app", limit)
    now[0] += 30.5
    limiter.acquire("restart", "app", limit)


#: state files no version of this module writes: each must deny, never reset the budgets
CORRUPT_STATES = [
    pytest.param(b"", id="empty"),
    pytest.param(b'{"restart:app": [1000.0', id="truncated"),
    pytest.param(b"[1000.0]", id="not-a-mapping"),
    pytest.param(b"null", id="null"),
    pytest.param(b'{"restart:app": "1000.0"}', id="not-a-list"),
    pytest.param(b'{"restart:app": [1000.0, "y"]}', id="a-string-stamp"),
    pytest.param(b'{"restart:app": [true]}', id="a-boolean-stamp"),
    pytest.param(b'{"restart:app": [NaN]}', id="nan"),
    pytest.param(b'{"restart:app": [-Infinity]}', id="infinity"),
    pytest.param(b"\xff\xfe{}", id="not-utf-8"),
]


@pytest.mark.parametrize("data", CORRUPT_STATES)
def test_corrupt_state_denies_and_is_kept(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "ratelimit.json").write_bytes(data)
    with pytest.raises(Denied, match=r"the rate-limit state .*ratelimit.json is corrupt; fix or remove it"):
        RateLimiter(tmp_path).acquire("restart", "app", RateLimit(100, 60))
    assert (tmp_path / "ratelimit.json").read_bytes() == data


def test_unreadable_state_denies(tmp_path: Path) -> None:
    (tmp_path / "ratelimit.json").mkdir()
    with pytest.raises(Denied, match=r"the rate-limit state .*ratelimit.json is unreadable \(Is a directory\)"):
        RateLimiter(tmp_path).acquire("restart", "app", RateLimit(100, 60))


def test_corrupt_state_denies_a_restart_with_one_line(
    policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    target = _make(containers)
    state = policy_dir / "state" / "ratelimit.json"
    state.parent.mkdir(mode=0o700, parents=True)
    state.write_bytes(b'{"restart:')
    started = containers.client.api.inspect_container(target.id)["State"]["StartedAt"]
    refusal(run_rshell(policy, "-c", f"restart {target.name}"), 126, f"the rate-limit state {state} is corrupt")
    assert containers.client.api.inspect_container(target.id)["State"]["StartedAt"] == started
    assert state.read_bytes() == b'{"restart:'
    success(run_rshell(policy, "-c", "ps"))  # a verb without a limit does not read the state


def test_unreadable_state_denies_an_unprivileged_user(public_dir: Path, containers: EngineContainers) -> None:
    """The state belongs to root (0600) and the policy's user is nobody: a budget it cannot read is spent."""
    body = "principals: {users: {nobody: r}}\nroles:\n  r: {verbs: [ps], limits: {ps: {count: 5, per: 1h}}}\n"
    policy, var = write_shared_policy(public_dir, body, writer_uid=65534)
    state = var / "state"
    state.mkdir(mode=0o755)
    (state / "ratelimit.json").write_text("{}")
    (state / "ratelimit.json").chmod(0o600)
    os.chown(state, 65534, -1)
    outcome = run_rshell(policy, "-c", "ps", prefix=as_user("nobody", "nogroup"))
    refusal(outcome, 126, f"the rate-limit state {state}/ratelimit.json is unreadable (Permission denied)")
    assert outcome.stdout == ""


#: run in a child whose files may not grow past 64 bytes: the new state cannot be written whole
_SMALL_FILES = textwrap.dedent(
    """\
    import resource, signal, sys
    from pathlib import Path
    from rshell.errors import RshellError
    from rshell.policy.model import RateLimit
    from rshell.ratelimit import RateLimiter
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
    try:
        RateLimiter(Path(sys.argv[1])).acquire("restart", "c" * 64, RateLimit(5, 3600))
    except RshellError as error:
        print(int(error.status), error.message)
    """
)


def test_a_write_that_fails_midway_leaves_the_old_state_whole(tmp_path: Path) -> None:
    now = time.time()
    state = {"restart:" + "a" * 64: [now - 10, now - 5], "restart:" + "b" * 64: [now - 1]}
    (tmp_path / "ratelimit.json").write_text(json.dumps(state))
    before = (tmp_path / "ratelimit.json").read_bytes()
    completed = subprocess.run(
        [sys.executable, "-I", "-c", _SMALL_FILES, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert completed.stdout.startswith("1 cannot write the rate-limit state"), completed
    assert (tmp_path / "ratelimit.json").read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ratelimit.json", "ratelimit.lock"]
    limiter = RateLimiter(tmp_path)
    with pytest.raises(Denied, match="allowed 2 times"):  # the two earlier stamps still count
        limiter.acquire("restart", "a" * 64, RateLimit(2, 3600))


def test_a_renamed_container_keeps_its_budget(once_per_hour: Path, containers: EngineContainers) -> None:
    target = _make(containers)
    success(run_rshell(once_per_hour, "-c", f"restart {target.name}"))
    renamed = f"{target.name}-renamed"
    containers.client.api.rename(target.id, renamed)
    refusal(run_rshell(once_per_hour, "-c", f"restart {renamed}"), 126, f"rate limit: restart {renamed} is allowed 1")


@pytest.fixture
def read_limits(policy_dir: Path, containers: EngineContainers) -> Path:
    """root may run ps, logs and bench (at an address nothing answers), each limited to once an hour."""
    policy = role_policy(policy_dir, containers, "ps, logs, bench", bench_url="http://127.0.0.1:9")
    limits = "restart: {count: 3, per: 10m}\n      " + "\n      ".join(
        f"{verb}: {{count: 1, per: 1h}}" for verb in ("ps", "logs", "bench")
    )
    policy.write_text(policy.read_text().replace("restart: {count: 3, per: 10m}", limits))
    return policy


@pytest.mark.parametrize(
    ("first", "second", "other", "message"),
    [
        ("logs APP --tail 1", "logs APP --tail 2", "logs LINES --tail 1", "rate limit: logs APP is allowed 1"),
        ("ps", "ps --all", None, "rate limit: ps is allowed 1 times per 1h"),
        ("bench history", "bench compare a b", "bench gpu1", "rate limit: bench is allowed 1"),
    ],
    ids=["logs-per-container", "ps-per-verb", "bench-history-per-verb"],
)
def test_limits_hold_for_read_only_verbs(
    read_limits: Path, containers: EngineContainers, *, first: str, second: str, other: str | None, message: str
) -> None:
    def line(text: str) -> str:
        return text.replace("APP", containers.name("app")).replace("LINES", containers.name("lines"))

    run_rshell(read_limits, "-c", line(first))
    outcome = refusal(run_rshell(read_limits, "-c", line(second)), 126, line(message))
    assert outcome
    if other is not None:
        assert run_rshell(read_limits, "-c", line(other)).status != 126  # another target has its own budget


def test_a_bench_target_has_its_own_budget(read_limits: Path) -> None:
    assert run_rshell(read_limits, "-c", "bench gpu1").status == 1  # nothing answers; the attempt counts
    refusal(run_rshell(read_limits, "-c", "bench gpu1"), 126, "rate limit: bench gpu1 is allowed 1 times per 1h")


@pytest.mark.parametrize("verb", ["exit", "quit", "mcp"])
def test_a_limit_that_cannot_apply_is_a_load_error_with_its_line(verb: str) -> None:
    text = f"version: 1\nroles:\n  r:\n    verbs: [ps]\n    limits:\n      {verb}: {{count: 1, per: 1h}}\n"
    problems = Problems("p.yaml")
    assert parse_policy(text, Path("p.yaml"), Registry.discover().settings_schemas(), problems) is None
    assert len(problems.messages) == 1
    assert problems.messages[0].startswith(f"p.yaml:6: roles.r.limits.{verb}: '{verb}' cannot be limited (")


def test_policy_check_says_how_a_limit_is_counted(read_limits: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-I", "-m", "rshell.ctl", "policy", "check", str(read_limits)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed
    lines = [line.strip() for line in completed.stdout.splitlines() if line.strip().startswith("limit: ")]
    assert [line.split(" (")[0] for line in lines] == [
        "limit: bench at most 1 per 3600s per target",
        "limit: logs at most 1 per 3600s per target",
        "limit: ps at most 1 per 3600s per target",
        "limit: restart at most 3 per 600s per target",
    ]
    assert all("each container by ID" in line for line in lines)
