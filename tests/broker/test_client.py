"""Every verb through the broker, with the client running as a real user who has no Docker access."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker.conftest import Names
from tests.broker.harness import RSHELL, Agent, Broker, run_as, run_client, settled_threads, wait_for
from tests.support.checks import refusal, success
from tests.support.shell import audit_records


def test_ps_shows_the_agents_containers_only(broker: Broker, agent: Agent, names: Names) -> None:
    outcome = success(run_client(agent, broker.socket, "-c", "ps"))
    assert names.name("app") in outcome.stdout
    assert names.name("rootonly") not in outcome.stdout
    assert names.name("hidden") not in outcome.stdout


def test_ps_json_is_one_document(broker: Broker, agent: Agent, names: Names) -> None:
    document = success(run_client(agent, broker.socket, "-c", "ps --json")).json()
    shown = {row["name"] for row in document["containers"]}
    assert shown == {names.name("app"), names.name("quiet"), names.name("bounce")}


def test_whoami_is_the_kernels_user(broker: Broker, agent: Agent) -> None:
    document = success(run_client(agent, broker.socket, "-c", "whoami --json")).json()
    assert (document["user"], document["uid"], document["role"]) == (agent.user, agent.uid, "agent")


def test_help_lists_the_roles_verbs(broker: Broker, agent: Agent) -> None:
    outcome = success(run_client(agent, broker.socket, "-c", "help"))
    assert "restart" in outcome.stdout
    assert "vram" not in outcome.stdout


def test_logs_tail(broker: Broker, agent: Agent, names: Names) -> None:
    outcome = success(run_client(agent, broker.socket, "-c", f"logs {names.name('app')} --tail 3"))
    lines = outcome.stdout.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("tick ") for line in lines)


@pytest.fixture
def sigint_not_ignored() -> Iterator[None]:
    """A shell that starts pytest in the background ignores SIGINT, and children inherit that; a
    handler in this process is reset to the default on exec, so the client gets Python's own."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_not_ignored")
def test_logs_follow_on_a_quiet_container_stops_on_ctrl_c_with_130(broker: Broker, agent: Agent, names: Names) -> None:
    baseline = settled_threads(broker)
    command = [*agent.prefix(), *RSHELL, "--broker", str(broker.socket), "-c", f"logs {names.name('quiet')} --follow"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    assert process.stdout is not None
    assert process.stdout.readline() == b"quiet-ready\n"  # then nothing: the broker waits on a silent stream
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert wait_for(lambda: broker.threads() <= baseline, 5), "the broker still runs the cancelled follow"


def test_restart_acts_and_is_audited_by_the_broker(
    broker: Broker, agent: Agent, names: Names, broker_etc: Path
) -> None:
    outcome = success(run_client(agent, broker.socket, "-c", f"restart {names.name('bounce')}"))
    assert "restarted" in outcome.stdout
    intents = [r for r in audit_records(broker_etc) if r.get("phase") == "intent" and r["verb"] == "restart"]
    assert any(r["user"] == agent.user and r["targets"][0]["name"] == names.name("bounce") for r in intents)


def test_a_batch_on_stdin_runs_every_line(broker: Broker, agent: Agent, names: Names) -> None:
    lines = f"whoami\nps --json\nlogs {names.name('quiet')} --tail 1\n"
    outcome = success(run_client(agent, broker.socket, stdin=lines))
    assert agent.user in outcome.stdout
    assert "quiet-ready" in outcome.stdout


def test_a_batch_stops_at_the_first_failure_with_its_code(broker: Broker, agent: Agent) -> None:
    outcome = run_client(agent, broker.socket, stdin="whoami\nvram\nps\n")
    assert outcome.status == 126
    assert "NAME" not in outcome.stdout  # ps never ran


@pytest.mark.parametrize(
    "refused",
    [
        ("vram", 126, "does not allow 'vram'"),
        ("restart {rootonly}", 126, "is visible to you"),
        ("logs {hidden} --tail 1", 126, "is visible to you"),
        ("logs {app} --tail 100000", 126, "more than your policy allows"),
        ("frobnicate", 127, "unknown verb"),
        ("ps --bogus", 2, "unknown option"),
        ("ps; id", 2, ""),
        ("logs", 2, ""),
    ],
)
def test_refusals_arrive_with_their_exit_code(
    broker: Broker, agent: Agent, names: Names, refused: tuple[str, int, str]
) -> None:
    line, status, fragment = refused
    text = line.format(rootonly=names.name("rootonly"), hidden=names.name("hidden"), app=names.name("app"))
    refusal(run_client(agent, broker.socket, "-c", text), status, fragment)


def test_json_refusals_are_json_on_stderr(broker: Broker, agent: Agent) -> None:
    outcome = run_client(agent, broker.socket, "-c", "vram --json")
    refusal(outcome, 126, "vram", json_error=True)


CONNECT_TO_DOCKER = """
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    sock.connect("/var/run/docker.sock")
except PermissionError:
    print("PermissionError")
else:
    print("connected")
"""


def test_the_agent_cannot_open_the_docker_socket(broker: Broker, agent: Agent) -> None:
    outcome = run_as(agent, CONNECT_TO_DOCKER)
    assert outcome.stdout.strip() == "PermissionError", outcome


def test_local_mode_as_the_agent_refuses_cleanly(broker: Broker, agent: Agent) -> None:
    """The agent cannot even read the broker's policy; --local stops with one line, not a traceback."""
    command = [*agent.prefix(), *RSHELL, "--local", "--policy", str(broker.policy), "-c", "ps"]
    completed = subprocess.run(command, capture_output=True, text=True, cwd="/", timeout=30, check=False)
    assert completed.returncode == 1, completed
    assert "permission denied" in completed.stderr.lower(), completed.stderr
    assert "Traceback" not in completed.stderr


def test_local_mode_with_a_readable_policy_still_cannot_reach_the_engine(
    broker: Broker, agent: Agent, socket_dir: Path
) -> None:
    """Even with a policy it may read and a log it may write, the engine socket stays closed to it."""
    var = socket_dir / "agent-var"
    var.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(["chown", agent.user, str(var)], check=True)
    readable = socket_dir / "agent-policy.yaml"
    text = broker.policy.read_text().replace(str(broker.policy.parent), str(var))
    readable.write_text(text)
    readable.chmod(0o644)
    command = [*agent.prefix(), *RSHELL, "--local", "--policy", str(readable), "-c", "ps"]
    completed = subprocess.run(command, capture_output=True, text=True, cwd="/", timeout=30, check=False)
    assert completed.returncode == 1, completed
    assert "permission denied" in completed.stderr.lower(), completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""


def test_broker_socket_is_the_groups_only(broker: Broker, agent: Agent) -> None:
    info = broker.socket.stat()
    assert oct(info.st_mode & 0o777) == "0o660"
    assert info.st_uid == 0


def test_status_is_answered_for_the_callers_identity(broker: Broker, agent: Agent) -> None:
    script = (
        "import json, socket, sys\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        's.sendall(b\'{"v": 1, "op": "status", "user": "root", "uid": 0}\\n\')\n'
        "print(s.makefile().readline())\n"
    )
    reply = json.loads(run_as(agent, script, str(broker.socket)).stdout)
    assert (reply["user"], reply["role"]) == (agent.user, "agent")
    assert reply["policy"] == str(broker.policy)
