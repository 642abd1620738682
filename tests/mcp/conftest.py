"""Fixtures for the MCP tests: a fake ollama server and policies that allow (or deny) ``mcp``."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.ollama_server import FakeModel, FakeOllama
from tests.support.engine import EngineContainers
from tests.support.policies import role_policy


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        yield server


def agent_policy(policy_dir: Path, containers: EngineContainers, verbs: str, bench_url: str = "") -> Path:
    """root holds role ``agent`` with these verbs (the shared test policy otherwise)."""
    return role_policy(policy_dir, containers, verbs, role="agent", bench_url=bench_url)


@pytest.fixture
def mcp_policy(policy_dir: Path, containers: EngineContainers, ollama: FakeOllama) -> Path:
    """An operator who may use ps, logs, restart, bench (on the fake ollama) and mcp."""
    return agent_policy(policy_dir, containers, "ps, logs, restart, bench, mcp", ollama.url)


@pytest.fixture
def restartable(containers: EngineContainers) -> Iterator[str]:
    """A container of this test alone, visible by label, that restart may act on."""
    container = containers.run(f"restart-{secrets.token_hex(3)}", "sleep 3600", labels={"rshell.visible": "true"})
    yield container.name
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)
