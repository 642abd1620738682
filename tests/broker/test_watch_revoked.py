"""A running ``vram --watch`` through the broker ends with 126 and one line when the agent's role
loses ``vram`` and the broker gets SIGHUP (a real broker, the agent a real unprivileged user)."""

from __future__ import annotations

import select
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker.conftest import Names, own_broker
from tests.broker.harness import RSHELL, Agent, Broker
from tests.broker.test_revocation import ended, set_policy
from tests.gpu.conftest import DISCRETE, build_sysfs

POLICY = """\
principals:
  users:
    root: gpu
    {{user}}: {role}
roles:
  gpu:
    verbs: [vram, ps]
    settings:
      vram: {{{{sysfs_root: "{root}", sources: [amd], proc_root: "{root}/proc"}}}}
  other:
    verbs: [ps]
"""


def body(role: str, root: Path) -> str:
    return POLICY.format(role=role, root=root)


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    root = build_sysfs(tmp_path / "root", [DISCRETE])
    for directory in (tmp_path, root):  # the broker (root) reads it; nothing else needs to
        directory.chmod(0o700)
    return root


@pytest.fixture
def gpu_broker(agent: Agent, names: Names, socket_dir: Path, tmp_path: Path, sysfs: Path) -> Iterator[Broker]:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=body("gpu", sysfs), name="vramw") as running:
        yield running


def test_vram_watch_ends_with_126_when_the_role_loses_vram(
    gpu_broker: Broker, agent: Agent, names: Names, sysfs: Path
) -> None:
    command = [*agent.prefix(), *RSHELL, "--broker", str(gpu_broker.socket), "-c", "vram --watch 1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the watch showed nothing"
        assert process.stdout.readline().startswith(b"card0")
        set_policy(gpu_broker, agent, names, body("other", sysfs))
        status, stderr = ended(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert status == 126, stderr
    assert stderr == "rshell: vram: stopped: role 'other' does not allow 'vram'\n"
    assert "Traceback" not in gpu_broker.stderr()
