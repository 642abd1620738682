"""The vram verb as a user sees it: the JSON document and the human text, once or watching."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from rshell.binding import bind
from rshell.errors import UsageError, VerbFailed
from rshell.events import Event, Record, Result
from rshell.policy.schema import Field, Kind, Problems, validate
from rshell.render.human import render_view
from rshell.verb import Context

if TYPE_CHECKING:  # mypy sees commands/ under its own name; at run time it is installed as rshell.commands
    from commands.vram import Vram
else:
    from rshell.commands.vram import Vram


def context(tmp_path: Path, settings: Mapping[str, object]) -> Context:
    return Context(engine=None, view=None, settings=settings, state_dir=tmp_path)  # type: ignore[arg-type]


def run(ctx: Context, *argv: str) -> list[Event]:
    return list(Vram().run(ctx, bind("vram", Vram.spec, argv)))


def as_json(result: Event) -> Any:
    """The result's document as the --json output carries it (which also proves it serialises)."""
    assert isinstance(result, Result)
    return json.loads(json.dumps(result.data))


def human(result: Result) -> str:
    return "".join(render_view(view, result.data) for view in (result.view, *result.extra_views))


def test_no_gpu_is_success_with_an_empty_list(tmp_path: Path) -> None:
    (result,) = run(context(tmp_path, {"sysfs_root": str(tmp_path), "sources": ["amd", "nvidia"]}))

    document = as_json(result)
    assert (document["gpus"], document["models"]) == ([], [])
    assert [(source["source"], source["status"]) for source in document["sources"]] == [
        ("amd", "not available"),
        ("nvidia", "not available"),
    ]
    assert isinstance(result, Result)
    lines = human(result).splitlines()
    assert lines[0] == "no GPU found"
    assert lines[1] == f"amd: not available: no DRM devices ({tmp_path}/sys/class/drm is missing)"
    assert lines[2].startswith("nvidia: not available: ")


def test_gpus_show_one_line_each_with_their_processes(tmp_path: Path, amd_tree: Path) -> None:
    (result,) = run(context(tmp_path, {"sysfs_root": str(amd_tree), "sources": ["amd"]}))

    assert isinstance(result, Result)
    assert human(result).splitlines() == [
        "card0  AMD Radeon RX 7900 XTX  0000:03:00.0  1002:744c  VRAM 6.0 GiB / 24.0 GiB (25%)  busy 12%"
        "  edge 45C junction 52C  35.0 W",
        "  pid 4242  5.0 GiB",
        "  pid 5151  512.0 MiB",
        "card1  AMD GPU 1002:15bf  0000:c5:00.0  1002:15bf  VRAM+GTT 3.4 GiB / 15.5 GiB (22%)  busy 3%"
        "  edge 41C  15.0 W",
        "  pid 6161  256.0 MiB",
    ]


def test_the_json_document_carries_units_in_its_names(tmp_path: Path, amd_tree: Path) -> None:
    (result,) = run(context(tmp_path, {"sysfs_root": str(amd_tree), "sources": ["amd"]}), "--json")

    document = as_json(result)
    card0, card1 = document["gpus"]
    assert (card0["vram_used_bytes"], card0["vram_total_bytes"], card0["memory_used_bytes"]) == (
        6 << 30,
        24 << 30,
        6 << 30,
    )
    assert card0["temperatures_mc"] == {"edge": 45000, "junction": 52000}
    assert card0["power_uw"] == 35_000_000
    assert card0["processes"][0] == {"pid": 4242, "vram_used_bytes": 5 << 30}
    assert (card1["integrated"], card1["memory_used_bytes"]) == (True, (384 << 20) + (3 << 30))
    assert document["sources"] == [{"source": "amd", "status": "ok", "message": "", "gpu_count": 2, "problems": []}]


def test_a_broken_card_shows_its_problem_under_the_gpus(
    tmp_path: Path, tree_with_second_card: Callable[[Mapping[str, str | None]], Path]
) -> None:
    root = tree_with_second_card({"mem_info_vram_used": "garbage"})
    (result,) = run(context(tmp_path, {"sysfs_root": str(root), "sources": ["amd"]}))

    assert isinstance(result, Result)
    sensors = "busy 12%  edge 45C junction 52C  35.0 W"
    assert human(result).splitlines() == [
        f"card0  AMD Radeon RX 7900 XTX  0000:03:00.0  1002:744c  VRAM 6.0 GiB / 24.0 GiB (25%)  {sensors}",
        f"card1  AMD Radeon RX 7900 XTX  0000:04:00.0  1002:744c  VRAM ? / 24.0 GiB  {sensors}",
        "amd: problem: card1: mem_info_vram_used: not a whole number: 'garbage'",
    ]


def test_every_source_failing_fails_the_verb(tmp_path: Path, amd_tree: Path) -> None:
    for card in ("card0", "card1"):
        for name in ("mem_info_vram_total", "mem_info_vram_used"):
            (amd_tree / "sys/class/drm" / card / "device" / name).unlink()

    with pytest.raises(VerbFailed, match=r"^vram: every GPU source failed \(amd: no card gave a VRAM figure"):
        run(context(tmp_path, {"sysfs_root": str(amd_tree), "sources": ["amd"]}))


def test_watch_yields_one_record_per_sample_up_to_count(tmp_path: Path, amd_tree: Path) -> None:
    ctx = context(tmp_path, {"sysfs_root": str(amd_tree), "sources": ["amd"]})

    records = run(ctx, "--watch", "1", "--count", "2")

    assert [type(record) for record in records] == [Record, Record]
    first, second = (record for record in records if isinstance(record, Record))
    assert (first.data["sample"], second.data["sample"]) == (1, 2)
    assert first.data["gpus"] == second.data["gpus"]
    assert first.text.startswith("card0  AMD Radeon RX 7900 XTX")
    assert second.text.startswith("\ncard0  AMD Radeon RX 7900 XTX")


def test_watch_stops_when_cancelled(tmp_path: Path, amd_tree: Path) -> None:
    ctx = context(tmp_path, {"sysfs_root": str(amd_tree), "sources": ["amd"]})
    samples = Vram().run(ctx, bind("vram", Vram.spec, ["--watch", "3600"]))

    first = next(samples)
    ctx.cancel.set()

    assert isinstance(first, Record)
    assert list(samples) == []


def test_only_watch_streams() -> None:
    assert Vram().streams(bind("vram", Vram.spec, ["--watch", "2"])) is True
    assert Vram().streams(bind("vram", Vram.spec, [])) is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--watch", "0"], "vram: --watch must be at least 1"),
        (["--watch", "3601"], "vram: --watch must be at most 3600"),
        (["--count", "0"], "vram: --count must be at least 1"),
        (["--watch", "1s"], "vram: WATCH must be a whole number, not '1s'"),
        (["/sys"], "vram: unexpected argument '/sys'"),
        (["--sysfs-root", "/tmp"], "vram: unknown option '--sysfs-root'"),
    ],
)
def test_bad_arguments_are_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        bind("vram", Vram.spec, argv)
    assert raised.value.message.startswith(message)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sources: [amd, intel]", "must be one of amd, nvidia, not 'intel'"),
        ("sysfs_root: sys", "is not an absolute path"),
        ("devices: [card0]", "unknown key 'devices'"),
    ],
)
def test_the_policy_checks_vram_settings(text: str, problem: str) -> None:
    problems = Problems("policy.yaml")
    node = yaml.compose(text)
    assert node is not None
    validate(node, Field("vram", Kind.OBJECT, fields=Vram.settings), "vram", problems)

    assert len(problems.messages) == 1
    assert problem in problems.messages[0]
