"""The model's own peak VRAM (runner processes, else the delta over a baseline) and unloading
between models, on the fixture sysfs trees of tests/gpu/conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rshell.policy.model import ContainerRule, Role
from rshell.policy.view import PolicyView, Principal
from rshell.verb import Context
from tests.bench.helpers import bench_settings, human_text, run_verb
from tests.gpu.conftest import DISCRETE, PCI_BRIDGE, Kfd, build_proc, build_sysfs
from tests.ollama_server import FakeModel, FakeOllama

GIB = 1 << 30
GPU_ID = 45678
TENANT_PID, TENANT_BYTES = 4242, 4 * GIB
#: the card shows 6 GiB in use before any model (the tenant's 4 and 2 of the desktop's)
BASE_USED = 6 * GIB
SMALL, LARGE = FakeModel("llama3.2:1b", size_vram=GIB), FakeModel("qwen3:4b", size_vram=3 * GIB)
RUNNER_PIDS = {SMALL.name: 5000, LARGE.name: 5001}


class FixtureGpu:
    """The fixture tree, changed as the fake ollama loads and unloads runners."""

    def __init__(self, root: Path, *, per_process: bool) -> None:
        kfd = Kfd(nodes={0: (0, 0), 1: (GPU_ID, 128)}, processes={TENANT_PID: {f"vram_{GPU_ID}": str(TENANT_BYTES)}})
        self.root = build_sysfs(root / "sys-root", [DISCRETE], kfd if per_process else None)
        self.proc = build_proc(root / "proc", {TENANT_PID: ("python3", "0::/"), 5000: ("ollama", "0::/")})
        build_proc(self.proc, {5001: ("ollama", "0::/")})
        self.per_process = per_process
        self.loaded: dict[str, int] = {}
        self._write_used()

    def on_load(self, name: str, loaded: bool) -> None:
        model = next(model for model in (SMALL, LARGE) if model.name == name)
        runner = self.root / "sys/class/kfd/kfd/proc" / str(RUNNER_PIDS[name])
        if loaded:
            self.loaded[name] = model.size_vram
            if self.per_process:
                runner.mkdir(parents=True, exist_ok=True)
                (runner / f"vram_{GPU_ID}").write_text(f"{model.size_vram}\n")
        else:
            self.loaded.pop(name, None)
            (runner / f"vram_{GPU_ID}").unlink(missing_ok=True)
        self._write_used()

    def _write_used(self) -> None:
        used = BASE_USED + sum(self.loaded.values())
        (self.root / PCI_BRIDGE / DISCRETE.slot / "mem_info_vram_used").write_text(f"{used}\n")

    def context(self, url: str, state: Path) -> Context:
        vram = {"sysfs_root": str(self.root), "proc_root": str(self.proc), "sources": ["amd"]}
        settings = bench_settings(url, models=[SMALL.name, LARGE.name])
        role = Role("bencher", frozenset({"bench"}), ContainerRule(), settings={"bench": settings, "vram": vram})
        view = PolicyView(Principal(1000, "agent", frozenset()), role, "user 'agent'", "unix:///var/run/docker.sock")
        return Context(engine=None, view=view, settings=settings, state_dir=state)  # type: ignore[arg-type]


def bench_two_models(tmp_path: Path, *, per_process: bool) -> tuple[dict[str, Any], FakeOllama, str]:
    gpu = FixtureGpu(tmp_path, per_process=per_process)
    with FakeOllama([SMALL, LARGE], on_load=gpu.on_load) as server:
        argv = ["gpu1", "--model", SMALL.name, "--model", LARGE.name, "--runs", "1", "--test", "tg128", "--tg", "8"]
        outcome = run_verb(gpu.context(server.url, tmp_path / "state"), argv)
    assert outcome.error is None, outcome.error
    return outcome.data, server, human_text(outcome.result)


def test_the_runners_own_vram_is_the_models_not_the_devices(tmp_path: Path) -> None:
    data, _, shown = bench_two_models(tmp_path, per_process=True)
    small, large = data["models"]
    assert (small["peak_vram_bytes"], small["vram_source"]) == (GIB, "runner processes")
    assert (large["peak_vram_bytes"], large["vram_source"]) == (3 * GIB, "runner processes")
    # the device figure counts the tenant and the desktop too: 6 GiB + the larger model
    assert data["gpus"]["peak_vram_bytes"] == BASE_USED + 3 * GIB
    assert "qwen3:4b: model peak VRAM 3.0 GiB (runner processes)" in shown


def test_without_per_process_figures_the_delta_over_the_baseline_is_used(tmp_path: Path) -> None:
    data, _, _ = bench_two_models(tmp_path, per_process=False)
    small, large = data["models"]
    assert (small["peak_vram_bytes"], small["vram_source"], small["vram_baseline_bytes"]) == (
        GIB,
        "delta over baseline",
        BASE_USED,
    )
    # the small model was unloaded first, so the large one's baseline is the bare card again
    assert (large["peak_vram_bytes"], large["vram_baseline_bytes"]) == (3 * GIB, BASE_USED)


def test_a_model_is_unloaded_before_the_next_one_and_the_run_says_so(tmp_path: Path) -> None:
    data, server, shown = bench_two_models(tmp_path, per_process=False)
    small, large = data["models"]
    assert (small["unloaded_after"], large["unloaded_after"]) == ("unloaded", None)
    bodies = server.generate_bodies()
    unloads = [index for index, body in enumerate(bodies) if body.get("keep_alive") == 0]
    assert [bodies[index]["model"] for index in unloads] == [SMALL.name]
    assert all(body["model"] == LARGE.name for body in bodies[unloads[0] + 1 :])
    assert large["load"]["cold_s"] is not None  # loaded into the freed VRAM
    assert "llama3.2:1b: unloaded before the next model" in shown
