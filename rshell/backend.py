"""Where lines run: in this process (local) or in the broker. The shell's modes use either alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from rshell.render.streams import Streams

if TYPE_CHECKING:
    from prompt_toolkit.completion import Completer

    from rshell.executor import Session


class Backend(Protocol):
    """Runs one line and renders it; offers completion and a status line for the REPL."""

    def run(self, line: str) -> int: ...
    def completer(self) -> Completer: ...
    def toolbar(self) -> str: ...


class LocalBackend:
    """Verbs run in this process with its own engine connection (``--local``)."""

    def __init__(self, session: Session, streams: Streams) -> None:
        self.session = session
        self.streams = streams

    def run(self, line: str) -> int:
        from rshell.runner import run_line  # noqa: PLC0415

        return run_line(self.session, line, self.streams)

    def completer(self) -> Completer:
        from rshell.completion import Candidates, SpecCompleter  # noqa: PLC0415

        return SpecCompleter(Candidates(self.session))

    def toolbar(self) -> str:
        view = self.session.view
        return f" {view.principal.user} · role {view.role_name or 'none'} · engine {self.session.engine.url} (local)"
