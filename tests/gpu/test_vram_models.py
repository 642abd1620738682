"""vram's per-model section: what each policy bench target has loaded, from ollama's /api/ps."""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rshell.binding import bind
from rshell.events import Result
from rshell.gpu.ollamaps import processor, until
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
    assert {key: value for key, value in entry.items() if key != "expires_at"} == {
        "target": "gpu1",
        "model": "llama3.2:1b",
        "size_bytes": 2_000_000_000,
        "size_vram_bytes": 1_500_000_000,
        "size_vram_is_estimate": True,
        "gpu_percent": 75,
        "processor": "25%/75% CPU/GPU",
        "context_length": 8192,
    }
    assert asked == {("GET", "/api/ps")}
    text = "".join(render_view(view, result.data) for view in (result.view, *result.extra_views))
    # the fake server's model expires 300 s after it answered, as ollama's default keep_alive
    assert re.search(
        r"^model llama3\.2:1b on gpu1: 2 GB  25%/75% CPU/GPU  context 8192  [45] minutes from now$", text, re.M
    )


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("size", "size_vram", "shown"),
    [
        (2_000_000_000, 0, "100% CPU"),
        (2_000_000_000, 2_000_000_000, "100% GPU"),
        (2_000_000_000, 2_000_000_001, "Unknown"),  # more in VRAM than the model: ollama will not say >100%
        (0, 5, "Unknown"),
        (2_000_000_000, 1_500_000_000, "25%/75% CPU/GPU"),
        (200, 1, "100%/0% CPU/GPU"),  # 99.5 rounds away from zero, as Go's math.Round does
        (1000, 995, "1%/99% CPU/GPU"),  # 0.5 up, not to even
        (1000, 985, "2%/98% CPU/GPU"),  # 1.5 up
        (None, 5, "Unknown"),
    ],
)
def test_the_cpu_gpu_split_follows_ollama_ps(size: int | None, size_vram: int | None, shown: str) -> None:
    assert processor(size, size_vram) == shown


@pytest.mark.parametrize(
    ("expires_at", "shown"),
    [
        ("2026-12-01T11:59:59Z", "Stopping..."),  # past: ollama is unloading it
        ("2026-12-01T12:04:30.123456789Z", "4 minutes from now"),  # Go's nanoseconds
        ("2026-12-01T12:00:30+00:00", "30 seconds from now"),
        ("2026-12-01T13:00:00Z", "About an hour from now"),
        ("2026-12-01T07:00:00-07:00", "2 hours from now"),
        ("2026-12-08T12:00:00Z", "7 days from now"),
        ("0001-01-01T00:00:00Z", "Never"),  # Go's zero time
        ("not a time", "Never"),
        (None, "Never"),
    ],
)
def test_until_follows_ollama_ps(expires_at: str | None, shown: str) -> None:
    assert until(expires_at, NOW) == shown


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
