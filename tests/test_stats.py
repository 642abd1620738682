"""stats on the real engine: the docker CLI's own numbers, for visible containers only."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.support.checks import refusal, success
from tests.support.engine import IMAGE, EngineContainers
from tests.support.policies import role_policy
from tests.support.shell import RSHELL, Outcome, audit_records, run_rshell, write_policy

#: CPU % of one sample moves with the machine's load between the two readings; both must agree this well
CPU_MARGIN = 25.0


@pytest.fixture(scope="module")
def busy(containers: EngineContainers) -> Iterator[Any]:
    """A visible container spinning on half a CPU (the quota keeps its CPU % steady on a busy host)."""
    container = containers.client.containers.create(
        IMAGE,
        ["sh", "-c", "yes > /dev/null"],
        name=containers.name(f"busy-{secrets.token_hex(3)}"),
        labels={"rshell.visible": "true"},
        nano_cpus=500_000_000,
        mem_limit="64m",
    )
    containers.made.append(container.id)
    container.start()
    yield container
    containers.client.api.remove_container(container.id, force=True)


@pytest.fixture
def stats_policy(policy_dir: Path, containers: EngineContainers) -> Path:
    return role_policy(policy_dir, containers, "stats")


def docker_cli_cpu_percent(container_id: str) -> float:
    completed = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.CPUPerc}}", container_id],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(completed.stdout.strip().rstrip("%"))


def test_cpu_percent_agrees_with_docker_stats(stats_policy: Path, busy: Any) -> None:
    ours = success(run_rshell(stats_policy, "-c", f"stats {busy.name} --json")).json()["containers"]
    theirs = docker_cli_cpu_percent(busy.id)
    assert [row["name"] for row in ours] == [busy.name]
    assert ours[0]["cpu_percent"] > 10.0, ours
    assert abs(ours[0]["cpu_percent"] - theirs) <= CPU_MARGIN, (ours, theirs)
    assert ours[0]["memory_limit_bytes"] == 64 * 1024 * 1024
    assert 0 < ours[0]["memory_bytes"] < ours[0]["memory_limit_bytes"]
    assert ours[0]["pids"] >= 1


def test_every_visible_running_container_and_no_hidden_one(
    stats_policy: Path, containers: EngineContainers, busy: Any
) -> None:
    rows = success(run_rshell(stats_policy, "-c", "stats --json")).json()["containers"]
    names = {row["name"] for row in rows}
    assert {busy.name, containers.name("app"), containers.name("labelled")} <= names
    assert containers.name("hidden") not in names
    assert containers.name("stopped") not in names  # not running: nothing to sample


@pytest.mark.parametrize(
    ("words", "status", "fragment"),
    [
        ("{hidden}", 126, "is visible to you"),
        ("{hidden} --watch 1 --count 1", 126, "is visible to you"),
        ("--watch 0", 2, "--watch"),
        ("--count x", 2, "N must be a whole number"),
        ("{app} ''", 2, "CONTAINER must not be empty"),
        (" ".join(f"c{number}" for number in range(65)), 2, "at most 64 CONTAINER arguments, not 65"),
    ],
    ids=["hidden", "hidden-watch", "zero-interval", "bad-count", "empty-second", "over-the-cap"],
)
def test_bad_input_is_one_line(
    words: str, status: int, fragment: str, stats_policy: Path, containers: EngineContainers
) -> None:
    line = "stats " + words.format(hidden=containers.name("hidden"), app=containers.name("app"))
    refusal(run_rshell(stats_policy, "-c", line), status, fragment)


def test_watch_shows_one_table_per_sample(stats_policy: Path, busy: Any) -> None:
    stdout = success(run_rshell(stats_policy, "-c", f"stats {busy.name} --watch 1 --count 2")).stdout
    assert "\x1b" not in stdout  # a pipe gets no cursor movement: one table after another
    tables = stdout.split("\n\n")
    assert len(tables) == 2
    for table in tables:
        heading, row = table.strip().splitlines()
        assert heading.split("  ")[0] == "NAME"
        assert heading.split()[-1] == "PIDS"
        assert row.startswith(f"{busy.name} ")
        assert "/ 64.0 MiB" in row


def names_shown(outcome: Outcome) -> list[str]:
    """The NAME column of a human stats table, top to bottom."""
    heading, *rows = success(outcome).stdout.splitlines()
    assert heading.startswith("NAME ")
    return [row.split()[0] for row in rows]


def test_several_containers_in_the_order_named(stats_policy: Path, containers: EngineContainers, busy: Any) -> None:
    app, labelled = containers.name("app"), containers.name("labelled")
    assert names_shown(run_rshell(stats_policy, "-c", f"stats {labelled} {busy.name} {app}")) == [
        labelled,
        busy.name,
        app,
    ]
    rows = success(run_rshell(stats_policy, "-c", f"stats {app} {labelled} --json")).json()["containers"]
    assert [row["name"] for row in rows] == [app, labelled]


def test_a_container_named_twice_is_shown_once(stats_policy: Path, containers: EngineContainers, busy: Any) -> None:
    app = containers.name("app")
    assert names_shown(run_rshell(stats_policy, "-c", f"stats {app} {app}")) == [app]
    by_id = busy.id[:10]  # the same container by name and by ID prefix is still one row
    assert names_shown(run_rshell(stats_policy, "-c", f"stats {busy.name} {app} {by_id}")) == [busy.name, app]


@pytest.mark.parametrize(
    "words",
    ["{app} {hidden}", "{hidden} {app}", "{app} {labelled} {hidden} --watch 1 --count 2", "{app} {hidden} --json"],
)
def test_a_hidden_container_among_several_is_refused_as_it_is_alone(
    stats_policy: Path, policy_dir: Path, containers: EngineContainers, words: str
) -> None:
    names = {suffix: containers.name(suffix) for suffix in ("app", "labelled", "hidden")}
    json_error = "--json" in words
    alone_line = f"stats {names['hidden']}" + " --json" * json_error
    alone = refusal(run_rshell(stats_policy, "-c", alone_line), 126, json_error=json_error)
    outcome = run_rshell(stats_policy, "-c", "stats " + words.format(**names))
    assert refusal(outcome, 126, json_error=json_error) == alone
    assert outcome.stdout == ""
    assert names["hidden"] in alone  # the caller's own word, as for a name that does not exist
    nowhere = refusal(run_rshell(stats_policy, "-c", f"stats {names['app']} {containers.prefix}-nope"), 126)
    assert nowhere == alone.replace(names["hidden"], f"{containers.prefix}-nope")
    record = audit_records(policy_dir)[-2]
    assert (record["exit_code"], record["targets"]) == (126, [])


def test_over_the_cap_resolves_nothing(stats_policy: Path, policy_dir: Path, containers: EngineContainers) -> None:
    line = "stats " + " ".join([containers.name("app")] * 65)  # counted before duplicates are dropped
    refusal(run_rshell(stats_policy, "-c", line), 2, "stats: at most 64 CONTAINER arguments, not 65")
    assert audit_records(policy_dir)[-1]["targets"] == []
    assert names_shown(run_rshell(stats_policy, "-c", "stats " + " ".join([containers.name("app")] * 64))) == [
        containers.name("app")
    ]


def test_help_and_usage_say_several_containers(stats_policy: Path) -> None:
    lines = success(run_rshell(stats_policy, "-c", "stats --help")).stdout.splitlines()
    assert lines[0] == "usage: stats [CONTAINER ...] [--watch SECONDS] [--count N] [--json]"
    assert any(line.strip().startswith("CONTAINER ...  ") for line in lines)
    refusal(run_rshell(stats_policy, "-c", "stats --nope"), 2, "(usage: stats [CONTAINER ...] ")


def on_a_terminal(policy: Path, line: str) -> tuple[int, str]:
    """Run ``rshell -c line`` with stdout on a pseudo-terminal: its exit status and what it wrote."""
    child = pexpect.spawn(RSHELL[0], [*RSHELL[1:], "--policy", str(policy), "-c", line], cwd="/", dimensions=(40, 200))
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    return child.exitstatus, child.before.decode("utf-8", "replace").replace("\r\n", "\n")


def test_watch_on_a_terminal_redraws_the_table_in_place(
    stats_policy: Path, containers: EngineContainers, busy: Any
) -> None:
    app = containers.name("app")
    status, written = on_a_terminal(stats_policy, f"stats {busy.name} {app} --watch 1 --count 3")
    assert status == 0, written
    # each later sample goes back up over the previous table's 3 lines (CSI 3 F) and clears below (CSI J)
    tables = written.split("\x1b[3F\x1b[J")
    assert len(tables) == 3, written
    assert "\x1b" not in "".join(tables)  # no other control sequence, and none from the engine
    for table in tables:
        heading, *rows = table.removesuffix("\n").split("\n")
        assert heading.startswith("NAME ")
        assert [row.split()[0] for row in rows] == [busy.name, app]


def test_watch_json_on_a_terminal_is_still_one_record_per_sample(stats_policy: Path, busy: Any) -> None:
    status, written = on_a_terminal(stats_policy, f"stats {busy.name} --watch 1 --count 2 --json")
    assert status == 0, written
    records = [json.loads(line) for line in written.splitlines()]
    assert [(record["sample"], [row["name"] for row in record["containers"]]) for record in records] == [
        (1, [busy.name]),
        (2, [busy.name]),
    ]


def test_a_watch_ends_with_126_when_one_named_container_leaves_the_policy(
    policy_dir: Path, containers: EngineContainers
) -> None:
    leaving, app = containers.run(f"stats-leaving-{secrets.token_hex(3)}", "sleep 3600"), containers.name("app")
    try:
        body = "principals:\n  users: {root: viewer}\nroles:\n  viewer:\n    verbs: [stats]\n"
        body += f"    containers: {{names: [{app}, {leaving.name}]}}\n"
        line = f"stats {app} {leaving.name} --watch 1 --count 100"
        process = subprocess.Popen(
            [*RSHELL, "--policy", str(write_policy(policy_dir, body)), "-c", line],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd="/",
        )
        assert process.stdout is not None
        first = [process.stdout.readline().decode() for _ in range(3)]  # the first table: heading and two rows
        leaving.rename(f"{leaving.name}-away")
        stdout, stderr = process.communicate(timeout=30)
    finally:
        leaving.remove(force=True)
    assert [row.split()[0] for row in first[1:]] == [app, leaving.name]  # the object keeps the name it had
    assert process.returncode == 126, stderr
    assert stderr.decode() == "rshell: stats: stopped: the container is no longer visible to you\n"
    assert "-away" not in stdout.decode()
