"""The interactive shell for a person at a terminal (prompt_toolkit), with no side doors."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from rshell.completion import Candidates, SpecCompleter
from rshell.errors import ExitStatus
from rshell.executor import Session
from rshell.render.streams import Streams
from rshell.runner import run_line

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


def make_prompt(session: Session, history: History) -> PromptSession[str]:
    """The prompt; system prompt (Meta-!), open-in-editor and suspend (Ctrl-Z) stay off."""
    toolbar = f" {session.view.principal.user} · role {session.view.role_name or 'none'} · engine {session.engine.url}"
    return PromptSession(
        PROMPT,
        completer=SpecCompleter(Candidates(session)),
        history=history,
        bottom_toolbar=toolbar,
        enable_system_prompt=False,
        enable_open_in_editor=False,
        enable_suspend=False,
        complete_while_typing=False,
    )


def run_repl(session: Session, streams: Streams, prompt: PromptSession[str] | None = None) -> int:
    """Read, run, repeat; Ctrl-C cancels the line or the running verb, Ctrl-D or ``exit`` leaves."""
    prompt = prompt or make_prompt(session, history_for_user())
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
        run_line(session, line, streams)
