"""``scripts/install`` into a fresh prefix, then MCP through its broker as an unprivileged agent (about 20 s)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.broker.commandbroker import command_broker
from tests.broker.harness import Agent, make_group, make_user, remove_account
from tests.support.shell import write_policy

REPO = Path(__file__).resolve().parents[2]
TOKEN = secrets.token_hex(3)
POLICY = """\
principals:
  users:
    {user}: agent
roles:
  agent:
    verbs: [ps, mcp]
    containers:
      names: [rshtest-install-none]
"""


@dataclass(frozen=True)
class Installed:
    base: Path

    @property
    def prefix(self) -> Path:
        return self.base / "opt"

    @property
    def bindir(self) -> Path:
        return self.base / "bin"

    @property
    def etc(self) -> Path:
        return self.base / "etc"


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    base = Path(tempfile.mkdtemp(prefix="rshell-install-test-", dir="/tmp"))
    base.chmod(0o755)  # the agent runs the prefix's rshell
    target = Installed(base)
    command = [str(REPO / "scripts" / "install"), "--prefix", str(target.prefix), "--bindir", str(target.bindir)]
    command += ["--etc", str(target.etc), "--no-engine"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd="/")
        assert done.returncode == 0, done.stderr[-2000:]
        yield target
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def install_agent() -> Iterator[Agent]:
    agent = Agent(f"rshtest-ia-{TOKEN}", f"rshtest-is-{TOKEN}")
    try:
        make_group(agent.group)
        make_user(agent.user, agent.group)
        yield agent
    finally:
        remove_account("user", agent.user)
        remove_account("group", agent.group)


@pytest.fixture
def prefix_broker(installed: Installed, install_agent: Agent, tmp_path: Path) -> Iterator[Path]:
    """rshelld as root, started from the installed prefix's own commands."""
    policy = write_policy(tmp_path / "etc", POLICY.format(user=install_agent.user))
    sock = installed.base / f"rshell-{secrets.token_hex(3)}.sock"
    command = [str(installed.bindir / "rshelld"), "--policy", str(policy), "--socket", str(sock)]
    command += ["--socket-group", install_agent.group]
    with command_broker(command, sock, tmp_path / "rshelld.log"):
        yield sock


async def initialize_and_list(command: list[str]) -> tuple[str, set[str]]:
    parameters = StdioServerParameters(command=command[0], args=command[1:], cwd="/", env={"PATH": "/usr/bin:/bin"})
    async with (
        stdio_client(parameters) as (read_stream, write_stream),
        ClientSession(read_stream, write_stream) as session,
    ):
        started = await session.initialize()
        tools = {tool.name for tool in (await session.list_tools()).tools}
        return started.server_info.name, tools


def test_the_install_serves_mcp_to_an_agent_through_its_broker(
    installed: Installed, install_agent: Agent, prefix_broker: Path
) -> None:
    command = [*install_agent.prefix(), str(installed.bindir / "rshell"), "--broker", str(prefix_broker), "-c", "mcp"]

    server, tools = anyio.run(initialize_and_list, command)

    assert server == "rshell"
    assert tools == {"ps", "whoami"}


def test_the_install_puts_the_policies_and_commands_in_place(installed: Installed) -> None:
    for name in ("policy.yaml", "try-policy.yaml"):
        info = (installed.etc / name).stat()
        assert (info.st_uid, info.st_mode & 0o777) == (0, 0o644)
    for command in ("rshell", "rshellctl", "rshelld"):
        assert os.access(installed.bindir / command, os.X_OK)
    check = subprocess.run(
        [str(installed.bindir / "rshellctl"), "policy", "check", str(installed.etc / "policy.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout


def test_the_thin_client_does_not_import_the_extras(installed: Installed) -> None:
    """MCP and NVML are installed, but the start-up path of ``ssh host -- ps`` never loads them."""
    code = "import sys; from rshell.cli import main; sys.exit(main(['rshell', '--broker', '/nonexistent', '-c', 'ps']))"
    done = subprocess.run(
        [str(installed.prefix / "bin" / "python"), "-X", "importtime", "-I", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert done.returncode == 1
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "rshell.client" in imported
    assert not {name for name in imported if name.split(".")[0] in {"mcp", "mcp_types", "pynvml", "anyio", "pydantic"}}
