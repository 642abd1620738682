"""``rshellctl status``: up (human and JSON, as root and as the agent), down, refused, wedged."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rshell import __version__
from rshell.client import ANSWER_TIMEOUT
from tests.broker.conftest import Names, agent_role, own_broker
from tests.broker.harness import Agent, Broker
from tests.support.shell import Outcome

RSHELLCTL = [sys.executable, "-I", "-m", "rshell.ctl"]


def rshellctl(*args: str, prefix: list[str] | None = None) -> Outcome:
    command = [*(prefix or []), *RSHELLCTL, *args]
    completed = subprocess.run(command, capture_output=True, text=True, cwd="/", timeout=30, check=False)
    assert "Traceback" not in completed.stderr, completed.stderr
    return Outcome(completed.returncode, completed.stdout, completed.stderr)


def test_status_of_a_running_broker(broker: Broker) -> None:
    outcome = rshellctl("status", "--socket", str(broker.socket))
    assert outcome.status == 0, outcome
    assert outcome.stdout.splitlines() == [
        f"rshelld: up on {broker.socket}",
        f"version: {__version__}",
        f"policy: {broker.policy}",
        "engine: unix:///var/run/docker.sock",
        "you: root, role operator",
    ]


def test_status_json_as_the_agent(broker: Broker, agent: Agent) -> None:
    outcome = rshellctl("status", "--socket", str(broker.socket), "--json", prefix=agent.prefix())
    assert outcome.status == 0, outcome
    assert json.loads(outcome.stdout) == {
        "up": True,
        "socket": str(broker.socket),
        "version": __version__,
        "policy": str(broker.policy),
        "engine": "unix:///var/run/docker.sock",
        "user": agent.user,
        "role": "agent",
    }


def test_status_when_no_broker_listens(tmp_path: Path) -> None:
    missing = tmp_path / "none.sock"
    outcome = rshellctl("status", "--socket", str(missing))
    assert outcome.status == 1
    assert outcome.stdout == f"rshelld: down: cannot reach the rshell broker at {missing}: No such file or directory\n"
    report = json.loads(rshellctl("status", "--socket", str(missing), "--json").stdout)
    assert (report["up"], report["socket"]) == (False, str(missing))


def test_status_of_a_stale_socket(tmp_path: Path) -> None:
    """A socket file left behind by a broker that died: connection refused, reported as down."""
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(stale))
    outcome = rshellctl("status", "--socket", str(stale))
    assert outcome.status == 1
    assert "Connection refused" in outcome.stdout


def test_status_of_a_wedged_broker_times_out(tmp_path: Path) -> None:
    """Something listens but never answers (a stopped process): down after the answer timeout, no hang."""
    wedged = tmp_path / "wedged.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(wedged))
        server.listen(1)
        outcome = rshellctl("status", "--socket", str(wedged))
    assert outcome.status == 1
    assert outcome.stdout.startswith("rshelld: down: ")
    assert "did not answer" in outcome.stdout
    assert ANSWER_TIMEOUT < 10


def test_status_refused_at_a_cap_says_the_broker_is_up_and_why(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    """The agent at its connection cap: the broker answered with a refusal, so it is up, not down."""
    options = ("--max-connections-per-uid", "1")
    body = agent_role("ps")
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=body, name="ctlcap", options=options) as broker:
        holder = subprocess.Popen(  # the agent's one connection, open and silent
            [*agent.prefix(), sys.executable, "-I", "-c", HOLD, str(broker.socket)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "connected"
            outcome = rshellctl("status", "--socket", str(broker.socket), prefix=agent.prefix())
            report = json.loads(
                rshellctl("status", "--socket", str(broker.socket), "--json", prefix=agent.prefix()).stdout
            )
        finally:
            holder.kill()
            holder.wait()
    assert outcome.status == 126, outcome
    assert outcome.stdout.startswith(
        f"rshelld: up on {broker.socket}, but it refused this request: too many connections"
    )
    assert (report["up"], report["status"]) == (True, 126)
    assert "--max-connections-per-uid" in report["refused"]


HOLD = """
import socket, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
print("connected", flush=True)
time.sleep(30)
"""


@pytest.mark.parametrize("args", [["--bogus"], ["--socket"], ["--json", "extra"]])
def test_status_usage(args: list[str]) -> None:
    outcome = rshellctl("status", *args)
    assert outcome.status == 2
    assert "usage: rshellctl status" in outcome.stderr
