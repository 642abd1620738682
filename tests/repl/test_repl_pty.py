"""The interactive shell as a person uses it: the real REPL on a real pseudo-terminal, real engine."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.repl.terminal import RSHELL, Terminal, editor_ran
from tests.support.engine import EngineContainers

ENGINE = "engine unix:///var/run/docker.sock"


def test_banner_prompt_and_toolbar_with_user_and_role(repl: Terminal) -> None:
    assert "type 'help' for the verbs you may use" in repl.consumed[0]
    toolbar = repl.expect(ENGINE)
    assert "root · role operator · " + ENGINE in toolbar


def test_ps_shows_the_visible_containers_and_not_the_hidden_one(repl: Terminal, containers: EngineContainers) -> None:
    shown = repl.run("ps")
    for suffix in ("app", "labelled", "ansi", "healthy", "lines"):
        assert containers.name(suffix) in shown
    assert containers.name("hidden") not in shown
    assert containers.name("stopped") not in shown  # only with --all


def test_tab_completes_verb_flag_and_visible_container(repl: Terminal, containers: EngineContainers) -> None:
    repl.keys("lo")
    repl.keys("\t")
    assert repl.line_after_tab("logs") == "logs"
    repl.keys(" --ta")
    repl.keys("\t")
    assert repl.line_after_tab("logs --tail") == "logs --tail"
    repl.keys(f" 2 {containers.name('ap')}")
    repl.keys("\t")
    line = f"logs --tail 2 {containers.name('app')}"
    assert repl.line_after_tab(line) == line
    shown = repl.run("")
    assert "tick " in shown
    assert repl.history()[-1] == line


def test_tab_never_offers_the_hidden_container(repl: Terminal, containers: EngineContainers) -> None:
    # "-h" begins both "-healthy" (visible) and "-hidden": it completes only when hidden is not offered
    repl.keys(f"logs {containers.name('h')}")
    repl.keys("\t")
    assert repl.line_after_tab(f"logs {containers.name('healthy')}") == f"logs {containers.name('healthy')}"
    repl.keys("\x15")  # Ctrl-U: clear the line
    repl.keys(f"logs {containers.name('hi')}")
    repl.keys("\t")
    time.sleep(1.0)  # give a (wrong) threaded completion the time to land before checking it did not
    assert repl.shown_line() == f"logs {containers.name('hi')}"
    shown = repl.run("")
    assert "secret-hidden-output" not in shown
    assert containers.name("hidden") not in repl.screen()
    assert repl.history()[-1] == f"logs {containers.name('hi')}"


def test_help_and_help_verb(repl: Terminal) -> None:
    listing = repl.run("help")
    for verb in ("ps", "logs", "restart", "help", "exit"):
        assert verb in listing
    assert "vram" not in listing  # not in the operator's role
    usage = repl.run("help logs")
    assert "--tail" in usage
    assert "--follow" in usage


def test_unknown_verb_prints_the_error_and_the_prompt_comes_back(repl: Terminal, containers: EngineContainers) -> None:
    shown = repl.run("lgos")
    assert "unknown verb 'lgos'" in shown
    assert "did you mean 'logs'" in shown
    assert containers.name("app") in repl.run("ps")


def test_ctrl_c_stops_logs_follow_and_the_session_survives(repl: Terminal, containers: EngineContainers) -> None:
    repl.keys(f"logs {containers.name('app')} --follow\r")
    repl.expect("tick ")
    repl.expect("tick ")  # streaming: a second line arrives after the first
    repl.keys("\x03")
    stopped = repl.prompt()
    assert "rshell: interrupted" in stopped
    assert repl.child.isalive()
    assert containers.name("app") in repl.run("ps")


def test_ctrl_z_during_a_running_verb_does_not_suspend(repl: Terminal, containers: EngineContainers) -> None:
    repl.keys(f"logs {containers.name('app')} --follow\r")
    repl.expect("tick ")
    repl.keys("\x1a")
    repl.expect("tick ")
    repl.expect("tick ")  # still streaming: the process was not stopped
    repl.keys("\x03")
    assert "rshell: interrupted" in repl.prompt()


def test_ctrl_c_at_an_empty_prompt_keeps_the_session(repl: Terminal, containers: EngineContainers) -> None:
    repl.keys("\x03")
    repl.prompt()
    repl.keys("ps --al\x03")  # Ctrl-C also drops a half-typed line
    repl.prompt()
    assert containers.name("app") in repl.run("ps")
    assert "ps --al" not in repl.history()


def test_ctrl_d_leaves_with_exit_0(repl: Terminal) -> None:
    repl.keys("\x04")
    assert repl.finish() == 0


@pytest.mark.parametrize("word", ["exit", "quit"])
def test_exit_leaves_with_exit_0(repl: Terminal, word: str) -> None:
    repl.keys(word + "\r")
    assert repl.finish() == 0


def test_the_history_file_gets_the_lines_typed(repl: Terminal, containers: EngineContainers) -> None:
    repl.run("ps")
    repl.run(f"logs {containers.name('lines')} --tail 3")
    repl.run("help logs")
    repl.keys("exit\r")
    assert repl.finish() == 0
    assert repl.history() == ["ps", f"logs {containers.name('lines')} --tail 3", "help logs", "exit"]
    history = repl.home / ".local" / "state" / "rshell" / "history"
    assert history.stat().st_mode & 0o777 == 0o600


@dataclass(frozen=True)
class Door:
    """Keys a person could type to leave the restricted shell, and what must happen instead."""

    keys: str
    answer: str  # what rshell says
    line: str | None  # the line that reaches rshell's own parser (None: an empty line)
    lines: int = 1  # how many lines the keys make


SIDE_DOORS = [
    pytest.param(Door("\x1b!id\r", "unknown verb '!id'", "!id"), id="meta-bang-system-prompt"),
    pytest.param(Door("\x18\x05\r", "", None), id="ctrl-x-ctrl-e-open-in-editor"),
    pytest.param(Door("\x1bv\r", "unknown verb 'v'", "v"), id="escape-v-vi-open-in-editor"),
    pytest.param(Door("\x1a\r", "control character U+001A is not allowed", "\x1a"), id="ctrl-z-suspend"),
    pytest.param(Door("ps\x11\nid\r", "newlines are not allowed", "ps\nid"), id="ctrl-q-ctrl-j-quoted-newline"),
    pytest.param(
        Door("\x1b[200~ps\nid\x1b[201~\r", "newlines are not allowed", "ps\nid"), id="bracketed-paste-two-lines"
    ),
    pytest.param(Door("ps\x16\nid\r", "unknown verb 'id'", "id", lines=2), id="ctrl-v-ctrl-j-lshell-newline"),
]


@pytest.mark.parametrize("door", SIDE_DOORS)
def test_side_doors_stay_shut(repl: Terminal, containers: EngineContainers, editor: Path, door: Door) -> None:
    before = len(repl.consumed)
    repl.keys(door.keys)
    shown = "".join(repl.prompt() for _ in range(door.lines))
    assert door.answer in shown
    assert containers.name("app") in repl.run("ps"), "the session answers afterwards"
    assert repl.child.isalive()
    assert "uid=" not in "".join(repl.consumed[before:])
    assert not editor_ran(editor), "an editor was opened"
    if door.line is not None:
        assert door.line in repl.history()


DOORS_OPEN = [
    pytest.param("enable_system_prompt=True", "\x1b!", "id\r", id="meta-bang-system-prompt"),
    pytest.param("enable_open_in_editor=True", "\x18\x05", "", id="ctrl-x-ctrl-e-open-in-editor"),
    pytest.param("enable_open_in_editor=True, vi_mode=True", "\x1bv", "", id="escape-v-vi-open-in-editor"),
]


@pytest.mark.parametrize(("settings", "keys", "then"), DOORS_OPEN)
def test_the_same_keys_open_the_door_when_prompt_toolkit_allows_it(
    home: Path, editor: Path, settings: str, keys: str, then: str
) -> None:
    """The side-door rows are not vacuous: on a prompt with the door open, the same keys get through."""
    code = f"from prompt_toolkit import PromptSession; PromptSession('door> ', {settings}).prompt()"
    terminal = Terminal.spawn(
        [sys.executable, "-I", "-c", code], home, extra_env={"EDITOR": str(editor), "VISUAL": str(editor)}
    )
    try:
        terminal.expect("door>")
        terminal.keys(keys)
        if then:
            terminal.keys(then)
            terminal.expect("uid=")
        else:
            terminal.finish()  # edit-and-execute: the prompt returns once the editor has run
            assert editor_ran(editor)
    finally:
        terminal.close()


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(
            [
                sys.executable,
                "-I",
                "-c",
                "import sys; sys.argv[0] = '-rshell'; from rshell.cli import main; sys.exit(main())",
            ],
            id="argv0-dash",
        ),
        pytest.param([*RSHELL, "-l"], id="dash-l"),
    ],
)
def test_login_mode_shows_the_repl(command: list[str], policy: Path, home: Path, containers: EngineContainers) -> None:
    """As login(1) and sshd start a login shell: argv[0] begins with '-' (or ``-l``)."""
    terminal = Terminal.spawn([*command, "--policy", str(policy)], home)
    try:
        assert "type 'help'" in terminal.prompt()
        assert containers.name("app") in terminal.run("ps")
        terminal.keys("\x04")
        assert terminal.finish() == 0
    finally:
        terminal.close()
