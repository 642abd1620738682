"""Every kind of broker error reaches the agent as one line on stderr (JSON with --json), the broker's
status as the exit code, and nothing on stdout: the client never prints a raw frame, never exits 0."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker.commandbroker import command_broker, venv_without_extras
from tests.broker.conftest import Names, agent_role, own_broker, policy_text
from tests.broker.harness import RSHELL, Agent, Broker, run_as, run_client
from tests.support.shell import Outcome, write_policy

#: more than the broker takes in one run request (4 x the lexer's 4096 bytes): a protocol error
OVERSIZED_LINE = "ps " + "a" * 20_000
MCP_POLICY = agent_role("ps", "mcp")
UNREACHABLE_ENGINE = """\
version: 1
engine:
  url: unix:///nonexistent/docker.sock
  timeout: 5s
audit_log: {etc}/audit.jsonl
state_dir: {etc}/state
principals:
  users:
    {user}: agent
roles:
  agent:
    verbs: [ps]
    containers:
      names: [anything]
"""
ASK_UNKNOWN_OP = """
from rshell.client import BrokerBackend, RemoteError
from rshell.render.streams import Streams
import sys
try:
    BrokerBackend(sys.argv[1], "c", Streams()).ask({"op": "frobnicate"}, "frobnicate")
except RemoteError as error:
    print(error.status, error.code, error.message)
"""


def one_line_error(outcome: Outcome, status: int, text: str) -> None:
    assert outcome.status == status, outcome
    assert outcome.stdout == ""
    assert outcome.stderr.count("\n") == 1, outcome.stderr
    assert outcome.stderr.startswith("rshell: ")
    assert text in outcome.stderr
    assert "Traceback" not in outcome.stderr


def json_error(outcome: Outcome, status: int, code: str) -> dict[str, str]:
    assert outcome.status == status, outcome
    assert outcome.stdout == ""
    assert outcome.stderr.count("\n") == 1, outcome.stderr
    problem: dict[str, str] = json.loads(outcome.stderr)["error"]
    assert problem["code"] == code
    return problem


@pytest.mark.parametrize(
    ("line", "status", "text"),
    [
        (OVERSIZED_LINE, 2, "a run request needs a line"),  # the broker's protocol error, status 2
        ("vram", 126, "does not allow 'vram'"),
        ("frobnicate", 127, "frobnicate"),
    ],
    ids=["protocol-error", "denied", "unknown-verb"],
)
def test_a_refused_line_is_one_stderr_line_and_its_status(
    broker: Broker, agent: Agent, line: str, status: int, text: str
) -> None:
    one_line_error(run_client(agent, broker.socket, "-c", line), status, text)


def test_a_protocol_error_with_json_is_a_json_error_on_stderr(broker: Broker, agent: Agent) -> None:
    problem = json_error(run_client(agent, broker.socket, "-c", OVERSIZED_LINE + " --json"), 2, "protocol")
    assert "a run request needs a line" in problem["message"]


def test_an_unknown_request_is_the_brokers_protocol_error(broker: Broker, agent: Agent) -> None:
    outcome = run_as(agent, ASK_UNKNOWN_OP, str(broker.socket))
    assert outcome.status == 0, outcome.stderr
    assert outcome.stdout == "2 protocol unexpected request 'frobnicate'\n"


@pytest.fixture
def engineless_broker(agent: Agent, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    etc = tmp_path / "etc"
    policy = write_policy(etc, "")  # makes the directory root's and 0700; the text is replaced below
    policy.write_text(UNREACHABLE_ENGINE.format(etc=etc, user=agent.user))
    running = Broker(policy, socket_dir / "engineless.sock", agent.group, tmp_path / "rshelld.log")
    yield running
    running.stop()


def test_a_verb_that_fails_in_the_broker_exits_1(engineless_broker: Broker, agent: Agent) -> None:
    one_line_error(run_client(agent, engineless_broker.socket, "-c", "ps"), 1, "/nonexistent/docker.sock")
    json_error(run_client(agent, engineless_broker.socket, "-c", "ps --json"), 1, "failed")


def test_a_broker_gone_mid_run_is_a_failure(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> None:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=_default_body(), name="gone") as running:
        command = [
            *agent.prefix(),
            *RSHELL,
            "--broker",
            str(running.socket),
            "-c",
            f"logs {names.name('quiet')} --follow",
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
        assert process.stdout is not None
        assert process.stdout.readline() == b"quiet-ready\n"
        running.process.send_signal(signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 1
    assert stdout == b""
    assert stderr.decode().count("\n") == 1
    assert stderr.decode().startswith("rshell: the broker connection failed")


def _default_body() -> str:
    from tests.broker.conftest import POLICY

    return POLICY


@pytest.fixture
def dead_socket(socket_dir: Path) -> Iterator[Path]:
    """A socket file nothing listens on (a broker that died without cleaning up), reachable by anyone."""
    path = socket_dir / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
    path.chmod(0o777)
    yield path
    path.unlink()


def test_a_broker_not_listening_is_a_failure(agent: Agent, dead_socket: Path) -> None:
    one_line_error(run_client(agent, dead_socket, "-c", "ps"), 1, f"cannot reach the rshell broker at {dead_socket}")
    assert "Connection refused" in run_client(agent, dead_socket, "-c", "ps").stderr
    assert json_error(run_client(agent, dead_socket, "-c", "ps --json"), 1, "failed")
    one_line_error(run_client(agent, dead_socket, "-c", "mcp"), 1, "Connection refused")


def test_a_socket_the_agent_may_not_open_is_a_failure(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path / "etc", policy_text(agent, names.prefix))
    running = Broker(policy, socket_dir / "rootgroup.sock", "root", tmp_path / "rshelld.log")  # 0660 root:root
    try:
        one_line_error(run_client(agent, running.socket, "-c", "ps"), 1, "Permission denied")
        one_line_error(run_client(agent, running.socket, "-c", "mcp"), 1, "Permission denied")
    finally:
        running.stop()


@pytest.fixture(scope="module")
def python_without_mcp() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="rshell-no-extras-", dir="/tmp"))
    try:
        yield venv_without_extras(directory / "venv")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_mcp_from_a_broker_without_the_sdk_is_one_line_and_exit_1(
    python_without_mcp: Path, agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path / "etc", policy_text(agent, names.prefix, MCP_POLICY))
    sock = socket_dir / "nomcp.sock"
    command = [str(python_without_mcp), "-I", "-m", "rshell.broker.server", "--policy", str(policy)]
    command += ["--socket", str(sock), "--socket-group", agent.group]
    request = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}\n'
    with command_broker(command, sock, tmp_path / "rshelld.log"):
        outcome = run_client(agent, sock, "-c", "mcp", stdin=request.decode())
    one_line_error(outcome, 1, "MCP is not available in the broker: install rshell[mcp]")
    assert "No module named" in outcome.stderr


def test_policy_check_fails_when_the_brokers_python_cannot_import_mcp(
    python_without_mcp: Path, agent: Agent, names: Names, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path / "etc", policy_text(agent, names.prefix, MCP_POLICY))
    command = [str(python_without_mcp), "-I", "-m", "rshell.ctl", "policy", "check", str(policy)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
    assert done.returncode == 1, done.stdout
    assert f"role agent: verb mcp needs rshell.mcp.server, which {python_without_mcp} cannot import" in done.stdout
    assert "install" in done.stdout.splitlines()[0]
    same = subprocess.run(
        [*RSHELL[:2], "-m", "rshell.ctl", "policy", "check", str(policy), "--python", str(python_without_mcp)],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert same.returncode == 1
    assert "verb mcp needs rshell.mcp.server" in same.stdout


INITIALIZE = (
    b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
    b'"capabilities":{},"clientInfo":{"name":"test","version":"1"}}}\n'
)


@pytest.fixture
def mcp_broker(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path) -> Iterator[Broker]:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=MCP_POLICY, name="mcp-errors") as running:
        yield running


def mcp_client(agent: Agent, sock: Path) -> subprocess.Popen[bytes]:
    command = [*agent.prefix(), *RSHELL, "--broker", str(sock), "-c", "mcp"]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")


def test_an_mcp_session_the_client_ends_exits_0(mcp_broker: Broker, agent: Agent) -> None:
    process = mcp_client(agent, mcp_broker.socket)
    stdout, stderr = process.communicate(INITIALIZE, timeout=30)
    assert process.returncode == 0, stderr
    assert json.loads(stdout.splitlines()[0])["result"]["serverInfo"]["name"] == "rshell"
    assert stderr == b""


def test_an_mcp_session_the_broker_drops_is_a_failure(mcp_broker: Broker, agent: Agent) -> None:
    process = mcp_client(agent, mcp_broker.socket)
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(INITIALIZE)
    process.stdin.flush()
    answer = json.loads(process.stdout.readline())  # the session is up
    mcp_broker.process.send_signal(signal.SIGKILL)
    process.wait(timeout=20)  # with its stdin still open: the client leaves on its own
    rest, stderr = process.communicate(timeout=5)
    assert answer["id"] == 1
    assert process.returncode == 1
    assert rest == b""
    assert stderr.decode() == "rshell: the broker ended the MCP session before the client did\n"
