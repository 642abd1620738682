"""Fixtures: the real Docker engine, this session's test containers, and a policy that names them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import EngineContainers, engine_client, ensure_image
from tests.support.policies import role_policy

ANSI_SCRIPT = r"printf 'plain\n\033[31mred\033[0m\n\033]0;pwned-title\007after-osc\n\033[2Jcleared\n'; sleep 3600"
TICK_SCRIPT = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"


@pytest.fixture(scope="session")
def engine() -> Any:
    try:
        client = engine_client()
    except Exception as error:  # tests need the real engine; say so plainly
        pytest.fail(f"the Docker engine at unix:///var/run/docker.sock is not reachable: {error}")
    ensure_image(client)
    return client


@pytest.fixture(scope="session")
def containers(engine: Any) -> Iterator[EngineContainers]:
    """app (visible by name), labelled (visible by label), hidden, ansi, healthy, stopped, lines."""
    made = EngineContainers(engine)
    made.run("app", TICK_SCRIPT)
    made.run("labelled", "sleep 3600", labels={"rshell.visible": "true"})
    made.run("hidden", "echo secret-hidden-output; sleep 3600")
    made.run("ansi", ANSI_SCRIPT)
    made.run("healthy", "sleep 3600", healthcheck=["CMD", "true"])
    made.run("stopped", "true", start=False)
    made.run("lines", "seq 1 5000; sleep 3600")
    yield made
    made.remove_all()


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    return tmp_path / "etc"


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A root-owned 0755 directory that an unprivileged user can reach (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="rshell-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def policy(policy_dir: Path, containers: EngineContainers) -> Path:
    """root is an operator who sees app, ansi, healthy, stopped, lines and label rshell.visible=true."""
    return role_policy(policy_dir, containers, "ps, logs, restart")
