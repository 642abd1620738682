"""The interactive shell for a person at a terminal (prompt_toolkit), with no side doors."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from rshell.backend import Backend
from rshell.errors import ExitStatus
from rshell.render.streams import Streams

PROMPT = "rshell> "


def history_for_user() -> History:
    """A history file under the user's home when it can be kept there, otherwise in memory."""
    try:
        home = Path(pwd.getpwuid(os.getuid()).pw_dir)
        directory = home / ".local" / "state" / "rshell"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / "history"
        path.touch(mode=0o600, exist_ok=True)
        return FileHistory(str(path))
    except (OSError, KeyError):
        return InMemoryHistory()


def make_prompt(backend: Backend, history: History) -> PromptSession[str]:
    """The prompt; system prompt (Meta-!), open-in-editor and suspend (Ctrl-Z) stay off."""
    return PromptSession(
        PROMPT,
        completer=backend.completer(),
        history=history,
        bottom_toolbar=backend.toolbar(),
        enable_system_prompt=False,
        enable_open_in_editor=False,
        enable_suspend=False,
        complete_while_typing=False,
        complete_in_thread=True,  # a slow engine must not freeze typing
    )


def run_repl(backend: Backend, streams: Streams, prompt: PromptSession[str] | None = None) -> int:
    """Read, run, repeat; Ctrl-C cancels the line or the running verb, Ctrl-D or ``exit`` leaves."""
    prompt = prompt or make_prompt(backend, history_for_user())
    streams.stdout.write("rshell: type 'help' for the verbs you may use, 'exit' to leave.\n")
    while True:
        try:
            line = prompt.prompt()
        except KeyboardInterrupt:
            continue
        except EOFError:
            return ExitStatus.OK
        if line.split() in (["exit"], ["quit"]):
            return ExitStatus.OK
        backend.run(line)
