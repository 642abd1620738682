"""The vram verb as a user sees it: the JSON document and the human text, once or watching."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from rshell.binding import bind
from rshell.errors import UsageError, VerbFailed
from rshell.events import Event, JSONValue, Record, Result
from rshell.gpu.bars import frame_lines
from rshell.gpu.model import Snapshot
from rshell.policy.schema import Field, Kind, Problems, validate
from rshell.render.human import HumanRenderer, render_view
from rshell.render.streams import Streams
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


def amd_settings(root: Path, pci_ids: Path) -> dict[str, object]:
    return {"sysfs_root": str(root), "sources": ["amd"], "pci_ids": str(pci_ids), "proc_root": str(root / "proc")}


CARD0 = (
    "card0  Navi 31 [Radeon RX 7900 XT/7900 XTX] (NITRO+ RX 7900 XTX Vapor-X)  0000:03:00.0  1002:744c"
    "  VRAM 6.0 GiB / 24.0 GiB (25%)  busy 12% mem 4%  sclk 2482 MHz  mclk 1249 MHz  edge 45C junction 52C mem 60C"
    "  fan 1180 RPM 31%  35.0 W / 327 W cap  perf auto"
)


def test_gpus_show_one_line_each_and_processes_nobody_may_see_as_a_sum(
    tmp_path: Path, amd_tree: Path, pci_ids: Path
) -> None:
    (result,) = run(context(tmp_path, amd_settings(amd_tree, pci_ids)))

    assert isinstance(result, Result)
    assert human(result).splitlines() == [
        CARD0,
        "  other: 2 processes, 5.5 GiB",  # no view: no container is visible, so no PID is shown
        "card1  Phoenix1  0000:c5:00.0  1002:15bf  VRAM+GTT 3.4 GiB / 15.5 GiB (22%)  busy 3%  sclk 800 MHz"
        "  edge 41C  SoC 15.0 W  perf auto",
        "  other: 1 process, 256.0 MiB",
    ]


def test_the_json_document_carries_units_in_its_names(tmp_path: Path, amd_tree: Path, pci_ids: Path) -> None:
    (result,) = run(context(tmp_path, amd_settings(amd_tree, pci_ids)), "--json")

    document = as_json(result)
    card0, card1 = document["gpus"]
    assert (card0["vram_used_bytes"], card0["vram_total_bytes"], card0["memory_used_bytes"]) == (
        6 << 30,
        24 << 30,
        6 << 30,
    )
    assert card0["temperatures_mc"] == {"edge": 45000, "junction": 52000, "mem": 60000}
    assert (card0["power_uw"], card0["power_cap_uw"], card0["power_scope"]) == (35_000_000, 327_000_000, "gpu")
    assert (card0["sclk_mhz"], card0["mclk_mhz"], card0["fan_rpm"], card0["fan_percent"]) == (2482, 1249, 1180, 31)
    assert (card0["name_source"], card0["board_name"], card0["status"]) == (
        "pci.ids",
        "NITRO+ RX 7900 XTX Vapor-X",
        "active",
    )
    assert (card0["processes"], card0["other_processes"]) == ([], {"count": 2, "vram_used_bytes": 11 << 29})
    assert (card1["integrated"], card1["memory_used_bytes"], card1["power_scope"]) == (
        True,
        (384 << 20) + (3 << 30),
        "soc",
    )
    assert document["sources"] == [{"source": "amd", "status": "ok", "message": "", "gpu_count": 2, "problems": []}]


def test_a_broken_card_shows_its_problem_under_the_gpus(
    tmp_path: Path, tree_with_second_card: Callable[[Mapping[str, str | None]], Path]
) -> None:
    root = tree_with_second_card({"mem_info_vram_used": "garbage", "product_name": "AMD Radeon RX 7900 XTX"})
    (result,) = run(context(tmp_path, amd_settings(root, tmp_path / "no-pci.ids")))

    assert isinstance(result, Result)
    sensors = CARD0.split("(25%)  ", 1)[1]
    assert human(result).splitlines() == [
        f"card0  AMD GPU 1002:744c  0000:03:00.0  1002:744c  VRAM 6.0 GiB / 24.0 GiB (25%)  {sensors}",
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
    ctx = context(tmp_path, amd_settings(amd_tree, tmp_path / "no-pci.ids"))

    records = run(ctx, "--watch", "1", "--count", "2")

    assert [type(record) for record in records] == [Record, Record]
    first, second = (record for record in records if isinstance(record, Record))
    assert (first.data["sample"], second.data["sample"]) == (1, 2)
    assert first.data["gpus"] == second.data["gpus"]
    assert first.text.startswith("card0  AMD GPU 1002:744c")
    assert second.text.startswith("\ncard0  AMD GPU 1002:744c")


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
        (["--watch", "1s"], "vram: SECONDS must be a whole number, not '1s'"),
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


def test_watch_on_a_terminal_redraws_one_bar_per_gpu_in_place(tmp_path: Path, amd_tree: Path, pci_ids: Path) -> None:
    records = run(context(tmp_path, amd_settings(amd_tree, pci_ids)), "--watch", "1", "--count", "2")
    terminal, pipe = io.StringIO(), io.StringIO()
    for output, is_tty in ((terminal, True), (pipe, False)):
        renderer = HumanRenderer(Streams(output, io.StringIO(), stdout_is_tty=is_tty))
        for record in records:
            renderer.event(record)

    frame = [
        "card0 Navi 31 [Radeon RX 7900 XT/7900 XTX]  [########----------------------]  6.0 GiB / 24.0 GiB  25%",
        "card1 Phoenix1                              [#######-----------------------]  3.4 GiB / 15.5 GiB  22%",
    ]
    # the second frame goes back up over the first two lines (CSI 2 F) and clears below (CSI J)
    assert terminal.getvalue() == "\n".join(frame) + "\n\x1b[2F\x1b[J" + "\n".join(frame) + "\n"
    assert pipe.getvalue().startswith(CARD0 + "\n")  # not a terminal: the full text, sample after sample
    assert "\x1b" not in pipe.getvalue()


def test_a_model_gets_its_own_bar() -> None:
    model: dict[str, JSONValue] = {"model": "llama3.2:1b", "target": "gpu1", "size_bytes": 2_000_000_000}
    line = frame_lines(Snapshot(()), [{**model, "size_vram_bytes": 1_500_000_000}])[0]

    assert line == "model llama3.2:1b on gpu1  [" + "#" * 22 + "-" * 8 + "]  1.5 GB of 2 GB in VRAM  25%/75% CPU/GPU"
