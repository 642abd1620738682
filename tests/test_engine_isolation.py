"""The engine comes from the policy only: no DOCKER_* variable, Docker config or Python start-up hook can
redirect, hang or inject into rshell; an engine that is down, slow or forbidden is one clear line."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.checks import refusal, success
from tests.support.engine import EngineContainers
from tests.support.shell import RSHELL, as_user, run_rshell, write_policy, write_shared_policy

ROLE = """\
principals:
  users: {root: op, nobody: op}
roles:
  op:
    verbs: [ps, logs]
    containers: {names: [app]}
"""


def _fifo_home(root: Path) -> tuple[Path, Path]:
    """A DOCKER_CONFIG directory and a HOME whose config.json are FIFOs: opening either would hang."""
    config, home = root / "docker-config", root / "home"
    (home / ".docker").mkdir(parents=True)
    config.mkdir()
    os.mkfifo(config / "config.json")
    os.mkfifo(home / ".docker" / "config.json")
    return config, home


def test_docker_environment_is_ignored(policy: Path, containers: EngineContainers, tmp_path: Path) -> None:
    config, home = _fifo_home(tmp_path)
    env = dict(
        os.environ,
        DOCKER_HOST="tcp://127.0.0.1:1",
        DOCKER_CONTEXT="x",
        DOCKER_CONFIG=str(config),
        DOCKER_TLS_VERIFY="1",
        DOCKER_CERT_PATH=str(tmp_path / "nowhere"),
        DOCKER_API_VERSION="1.12",
        HOME=str(home),
        HTTP_PROXY="http://127.0.0.1:1",
        HTTPS_PROXY="http://127.0.0.1:1",
        ALL_PROXY="http://127.0.0.1:1",
    )
    started = time.monotonic()
    outcome = success(run_rshell(policy, "-c", "ps --json", env=env, timeout=20))
    assert containers.name("app") in {row["name"] for row in outcome.json()["containers"]}
    assert time.monotonic() - started < 15


@pytest.fixture
def hooks(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """PYTHONPATH and PYTHONSTARTUP that would write a marker file if Python ever ran them."""
    marker, hook_dir = tmp_path / "marker", tmp_path / "hooks"
    (hook_dir / "rshell").mkdir(parents=True)
    payload = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    for module in ("sitecustomize.py", "usercustomize.py", "docker.py", "yaml.py", "rshell/__init__.py"):
        (hook_dir / module).write_text(payload)
    (hook_dir / "startup.py").write_text(payload)
    env = dict(
        os.environ, PYTHONPATH=str(hook_dir), PYTHONSTARTUP=str(hook_dir / "startup.py"), PYTHONUSERBASE=str(hook_dir)
    )
    return env, marker


@pytest.mark.parametrize("line", ["ps", "whoami", "ps; id"])
def test_python_start_up_hooks_never_run(policy: Path, hooks: tuple[dict[str, str], Path], line: str) -> None:
    env, marker = hooks
    run_rshell(policy, "-c", line, env=env)
    assert not marker.exists(), marker.read_text()


def test_a_hostile_current_directory_is_not_on_the_path(policy: Path, hooks: tuple[dict[str, str], Path]) -> None:
    env, marker = hooks
    completed = subprocess.run(
        [*RSHELL, "--policy", str(policy), "-c", "ps"],
        cwd=env["PYTHONPATH"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert not marker.exists()


# --- an engine that is down, slow or forbidden --------------------------------------------------


def _engine_policy(policy_dir: Path, url: str, timeout: str = "5s") -> Path:
    path = write_policy(policy_dir, ROLE)
    text = path.read_text().replace("url: unix:///var/run/docker.sock", f"url: {url}")
    path.write_text(text.replace("timeout: 20s", f"timeout: {timeout}"))
    return path


@pytest.mark.parametrize("url", ["unix:///nonexistent.sock", "http://127.0.0.1:1"])
@pytest.mark.parametrize("line", ["ps", "logs app", "ps --json"])
def test_unreachable_engine_is_one_line(policy_dir: Path, url: str, line: str) -> None:
    outcome = run_rshell(_engine_policy(policy_dir, url), "-c", line, timeout=30)
    refusal(outcome, 1, f"cannot reach the Docker engine at {url}", json_error="--json" in line)


def test_whoami_answers_without_an_engine(policy_dir: Path) -> None:
    outcome = success(run_rshell(_engine_policy(policy_dir, "unix:///nonexistent.sock"), "-c", "whoami --json"))
    document = outcome.json()
    assert (document["role"], document["containers"]) == ("op", [])
    assert "cannot reach the Docker engine" in document["containers_error"]
    success(run_rshell(_engine_policy(policy_dir, "unix:///nonexistent.sock"), "-c", "whoami"))


@pytest.fixture
def silent_engine() -> Iterator[str]:
    """A TCP port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_engine_that_never_answers_times_out_with_one_line(policy_dir: Path, silent_engine: str) -> None:
    started = time.monotonic()
    outcome = run_rshell(_engine_policy(policy_dir, silent_engine, timeout="1s"), "-c", "ps", timeout=30)
    refusal(outcome, 1, f"the Docker engine at {silent_engine} did not answer in time")
    assert time.monotonic() - started < 15


def test_socket_permission_denied_is_one_line(public_dir: Path) -> None:
    path, _ = write_shared_policy(public_dir, ROLE, writer_uid=65534)
    outcome = run_rshell(path, "-c", "ps", prefix=as_user("nobody", "nogroup"))
    refusal(outcome, 1, "permission denied on the Docker engine socket unix:///var/run/docker.sock")
