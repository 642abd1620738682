"""GPU processes as a principal sees them: named, with their container only if the policy shows it.

The containers are real ones on the engine; the fixture /proc tree's cgroup files carry their IDs.
A hidden container's process and a host process become one "other" sum: no PID, no name.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from rshell.gpu.model import GpuProcess
from rshell.gpu.procinfo import identify
from tests.gpu.conftest import (
    APU,
    DISCRETE,
    HOST_CGROUP,
    Kfd,
    build_proc,
    build_sysfs,
    docker_cgroup,
    systemd_cgroup,
    write_files,
)
from tests.support.checks import success
from tests.support.engine import EngineContainers
from tests.support.shell import run_rshell, write_policy

GiB, MiB = 1 << 30, 1 << 20
#: PIDs that cannot turn up in the output by chance (no size or ID contains them)
VISIBLE_PID, LABELLED_PID, HIDDEN_PID, HOST_PID = 31337, 42001, 27183, 16180
HIDDEN_COMM, HOST_COMM = "hidden-miner", "host-daemon"
KFD = Kfd(
    nodes={0: (0, 0), 1: (45678, 128), 2: (1234, 129)},
    processes={
        VISIBLE_PID: {"vram_45678": str(5 * GiB)},
        HIDDEN_PID: {"vram_45678": str(2 * GiB)},
        HOST_PID: {"vram_45678": str(512 * MiB)},
        LABELLED_PID: {"vram_1234": str(256 * MiB)},
    },
)


def _container_id(containers: EngineContainers, suffix: str) -> str:
    return str(containers.client.api.inspect_container(containers.name(suffix))["Id"])


@pytest.fixture
def vram_policy(tmp_path: Path, containers: EngineContainers) -> Path:
    """root may see ``app`` by name and ``labelled`` by label; ``hidden`` is in neither."""
    sysfs = build_sysfs(tmp_path / "sysfs", [DISCRETE, APU], KFD)
    proc = build_proc(
        tmp_path / "proc",
        {
            VISIBLE_PID: ("ollama", docker_cgroup(_container_id(containers, "app"))),
            LABELLED_PID: ("llama-server", systemd_cgroup(_container_id(containers, "labelled"))),
            HIDDEN_PID: (HIDDEN_COMM, systemd_cgroup(_container_id(containers, "hidden"))),
            HOST_PID: (HOST_COMM, HOST_CGROUP),
        },
    )
    body = f"""\
        principals:
          users:
            root: watcher
        roles:
          watcher:
            verbs: [vram]
            containers:
              names: [{containers.name("app")}]
              labels:
                - rshell.visible: "true"
            settings:
              vram: {{sysfs_root: {sysfs}, proc_root: {proc}, pci_ids: /nonexistent/pci.ids, sources: [amd]}}
        """
    return write_policy(tmp_path / "etc", textwrap.dedent(body))


def test_processes_show_only_for_visible_containers(vram_policy: Path, containers: EngineContainers) -> None:
    lines = success(run_rshell(vram_policy, "-c", "vram")).stdout.splitlines()

    assert lines[1:3] == [
        f"  pid {VISIBLE_PID}  ollama  in {containers.name('app')}  5.0 GiB",
        "  other: 2 processes, 2.5 GiB",  # the hidden container's and the host's, summed
    ]
    assert lines[4] == f"  pid {LABELLED_PID}  llama-server  in {containers.name('labelled')}  256.0 MiB"


@pytest.mark.parametrize("json_flag", [False, True], ids=["text", "json"])
def test_a_hidden_containers_process_leaves_no_trace(
    vram_policy: Path, containers: EngineContainers, json_flag: bool
) -> None:
    outcome = success(run_rshell(vram_policy, "-c", "vram --json" if json_flag else "vram"))
    hidden_id = _container_id(containers, "hidden")

    for secret in (str(HIDDEN_PID), str(HOST_PID), HIDDEN_COMM, HOST_COMM, containers.name("hidden"), hidden_id[:12]):
        assert secret not in outcome.stdout
        assert secret not in outcome.stderr
    if json_flag:
        card0 = json.loads(outcome.stdout)["gpus"][0]
        assert [proc["pid"] for proc in card0["processes"]] == [VISIBLE_PID]
        assert card0["other_processes"] == {"count": 2, "vram_used_bytes": 2 * GiB + 512 * MiB}


A = "a" * 64
#: /proc/PID/cgroup contents → the container ID read from them (None: not a Docker container)
CGROUPS = [
    (docker_cgroup(A), A),
    (systemd_cgroup(A), A),
    (f"0::/docker/{'b' * 64}/docker/{A}", A),  # a nested engine: the innermost container
    (f"0::/kubepods/besteffort/pod1/{A}", None),  # not Docker's layout
    (f"0::/docker/{A[:63]}", None),  # too short for an ID
    (f"0::/docker/{A.upper()}", None),  # IDs are lowercase hex
    (f"0::/system.slice/docker-{A}.scope-not", None),
    (f"0::/docker/{A}x", None),
    (HOST_CGROUP, None),
    ("", None),
    ("\x00\xff garbage", None),
]


@pytest.mark.parametrize(("cgroup", "container_id"), CGROUPS)
def test_the_container_comes_from_dockers_cgroup_layouts_only(
    tmp_path: Path, cgroup: str, container_id: str | None
) -> None:
    write_files(tmp_path / "7", {"comm": "worker", "cgroup": cgroup})

    process = identify(GpuProcess(7, 1), tmp_path)

    assert (process.name, process.container_id, process.container) == ("worker", container_id, None)


def test_a_process_gone_from_proc_keeps_only_its_pid(tmp_path: Path) -> None:
    assert identify(GpuProcess(7, 1), tmp_path) == GpuProcess(7, 1)
