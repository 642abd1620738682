"""vram's per-model section: what each policy bench target has loaded, from ollama's /api/ps."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rshell.binding import bind
from rshell.events import Result
from rshell.policy.model import ContainerRule, Role
from rshell.policy.view import PolicyView, Principal
from rshell.render.human import render_view
from rshell.verb import Context
from tests.ollama_server import FakeModel, FakeOllama

if TYPE_CHECKING:  # mypy sees commands/ under its own name; at run time it is installed as rshell.commands
    from commands.vram import Vram
else:
    from rshell.commands.vram import Vram


def context(tmp_path: Path, targets: Mapping[str, Any]) -> Context:
    settings = {"bench": {"targets": targets}, "vram": {}}
    role = Role("watcher", frozenset({"vram"}), ContainerRule(), settings=settings)
    view = PolicyView(Principal(1000, "agent", frozenset()), role, "user 'agent'", "unix:///var/run/docker.sock")
    vram_settings = {"sysfs_root": str(tmp_path), "sources": ["amd"]}
    return Context(engine=None, view=view, settings=vram_settings, state_dir=tmp_path)  # type: ignore[arg-type]


def vram(ctx: Context) -> Result:
    (result,) = list(Vram().run(ctx, bind("vram", Vram.spec, [])))
    assert isinstance(result, Result)
    return result


def document(result: Result) -> dict[str, Any]:
    """The result's data, loosely typed so the test can index into it."""
    return dict(result.data)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_loaded_models_show_their_vram_share_as_an_estimate(tmp_path: Path) -> None:
    model = FakeModel("llama3.2:1b", size=2_000_000_000, size_vram=1_500_000_000, context_length=8192)
    with FakeOllama([model]) as server:
        server.loaded.add("llama3.2:1b")
        result = vram(context(tmp_path, {"gpu1": {"url": server.url}}))
        asked = server.paths()

    (entry,) = document(result)["models"]
    assert entry == {
        "target": "gpu1",
        "model": "llama3.2:1b",
        "size_bytes": 2_000_000_000,
        "size_vram_bytes": 1_500_000_000,
        "size_vram_is_estimate": True,
        "gpu_percent": 75,
        "context_length": 8192,
        "expires_at": "2030-01-01T00:00:00Z",
    }
    assert asked == {("GET", "/api/ps")}
    text = "".join(render_view(view, result.data) for view in (result.view, *result.extra_views))
    assert "model llama3.2:1b on gpu1: 1.4 GiB of 1.9 GiB in VRAM (estimate; 75% GPU / 25% CPU)" in text


def test_a_target_that_is_down_is_a_problem_line_not_a_failure(tmp_path: Path) -> None:
    result = vram(context(tmp_path, {"gpu9": {"url": f"http://127.0.0.1:{closed_port()}"}}))

    assert result.data["models"] == []
    (problem,) = document(result)["model_problems"]
    assert isinstance(problem, str)
    assert problem.startswith("gpu9: ")
    text = "".join(render_view(view, result.data) for view in (result.view, *result.extra_views))
    assert "models: gpu9: " in text
    assert text.splitlines()[0] == "no GPU found"


def test_no_bench_targets_means_no_model_section(tmp_path: Path) -> None:
    result = vram(context(tmp_path, {}))

    assert (result.data["models"], result.data["model_problems"]) == ([], [])
