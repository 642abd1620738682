"""The output environment (httpie's idea): streams and whether they are terminals, injectable in tests.

A plain class, not a dataclass: the thin client imports this on every ``ssh host -- verb``.
"""

from __future__ import annotations

import sys

#: typing is not imported on the client's start-up path; mypy treats this name as True
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Protocol

    class TextOut(Protocol):
        """What renderers need of an output stream: a terminal, a file, a buffer, or the broker's socket."""

        def write(self, text: str, /) -> int: ...
        def flush(self) -> None: ...


class Streams:
    __slots__ = ("stderr", "stderr_is_tty", "stdout", "stdout_is_tty")

    def __init__(
        self,
        stdout: TextOut | None = None,
        stderr: TextOut | None = None,
        stdout_is_tty: bool = False,
        stderr_is_tty: bool = False,
    ) -> None:
        self.stdout: TextOut = stdout if stdout is not None else sys.stdout
        self.stderr: TextOut = stderr if stderr is not None else sys.stderr
        self.stdout_is_tty = stdout_is_tty
        self.stderr_is_tty = stderr_is_tty

    @classmethod
    def system(cls) -> Streams:
        return cls(sys.stdout, sys.stderr, sys.stdout.isatty(), sys.stderr.isatty())
