"""Fixtures for the REPL: rshell on a real pseudo-terminal, and an editor that leaves a mark."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.repl.terminal import RSHELL, Terminal


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def editor(tmp_path: Path) -> Path:
    """An $EDITOR that only leaves a marker next to itself (``editor_ran`` looks for it)."""
    script = tmp_path / "editor.sh"
    script.write_text(f"#!/bin/sh\ntouch {script.with_name('editor-ran')}\n")
    script.chmod(0o755)
    return script


@pytest.fixture
def repl(policy: Path, home: Path, editor: Path) -> Iterator[Terminal]:
    """rshell on a pty at its first prompt, with EDITOR and VISUAL set to the marking editor."""
    terminal = Terminal.spawn(
        [*RSHELL, "--policy", str(policy)], home, extra_env={"EDITOR": str(editor), "VISUAL": str(editor)}
    )
    try:
        terminal.prompt()
        yield terminal
    finally:
        terminal.close()
