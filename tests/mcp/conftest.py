"""Fixtures for the MCP tests: a fake ollama server and policies that allow (or deny) ``mcp``."""

from __future__ import annotations

import contextlib
import secrets
import textwrap
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.ollama_server import FakeModel, FakeOllama
from tests.support.engine import EngineContainers
from tests.support.shell import write_policy

VISIBLE_NAMES = ("app", "ansi", "healthy", "stopped", "lines")


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        yield server


def role_policy(policy_dir: Path, containers: EngineContainers, verbs: str, bench_url: str = "") -> Path:
    """root holds role ``agent``: the given verbs, the usual visible containers, logs capped at 2000."""
    names = ", ".join(containers.name(suffix) for suffix in VISIBLE_NAMES)
    bench = f"bench: {{targets: {{gpu1: {{url: '{bench_url}', models: [llama3.2:1b]}}}}}}" if bench_url else ""
    body = f"""\
        principals:
          users:
            root: agent
        roles:
          agent:
            verbs: [{verbs}]
            containers:
              names: [{names}]
              labels:
                - rshell.visible: "true"
            limits:
              restart: {{count: 3, per: 10m}}
            settings:
              logs: {{max_lines: 2000}}
              restart: {{stop_timeout: 1s, max_timeout: 30s}}
              {bench}
        """
    return write_policy(policy_dir, textwrap.dedent(body))


@pytest.fixture
def mcp_policy(policy_dir: Path, containers: EngineContainers, ollama: FakeOllama) -> Path:
    """An operator who may use ps, logs, restart, bench (on the fake ollama) and mcp."""
    return role_policy(policy_dir, containers, "ps, logs, restart, bench, mcp", ollama.url)


@pytest.fixture
def restartable(containers: EngineContainers) -> Iterator[str]:
    """A container of this test alone, visible by label, that restart may act on."""
    container = containers.run(f"restart-{secrets.token_hex(3)}", "sleep 3600", labels={"rshell.visible": "true"})
    yield container.name
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)
