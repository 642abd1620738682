"""A small terminal for driving rshell on a real pseudo-terminal with pexpect.

Unlike a real terminal, pexpect does not answer cursor position requests (CPR); prompt_toolkit
then waits, warns and hides the bottom toolbar. ``CursorAnswers`` answers them as a real terminal
would, so the REPL runs exactly as it does for a person.
"""

from __future__ import annotations

import ctypes
import io
import os
import pwd
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pexpect

RSHELL = [sys.executable, "-I", "-m", "rshell.cli"]
ROWS, COLUMNS = 30, 120
TIMEOUT = 5.0

#: a fresh prompt: prompt_toolkit turns bracketed paste on, then draws ``rshell>`` (the space is a cursor move)
PROMPT = re.compile(rb"\x1b\[\?2004h(?:\x1b\[[0-9;?]*[A-Za-z])*rshell>")
#: after Ctrl-L: the screen is cleared and the prompt is drawn again with the line being edited
REDRAWN_LINE = re.compile(rb"\x1b\[2J.*?rshell> ([^\x1b\r\n]*)")
CPR_REQUEST = b"\x1b[6n"
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")

# <sched.h> and <sys/mount.h>
CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000


def plain(data: bytes) -> str:
    """Terminal output as text: escape sequences and carriage returns removed."""
    return _ANSI.sub("", data.decode("utf-8", "replace")).replace("\r", "")


class CursorAnswers(io.RawIOBase):
    """pexpect's ``logfile_read``: keeps the transcript and answers each CPR with row 1, column 1."""

    def __init__(self) -> None:
        super().__init__()
        self.child: pexpect.spawn | None = None
        self.transcript = bytearray()
        self._tail = b""

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.transcript += data
        seen = self._tail + data  # a request may be split across two reads
        requests = seen.count(CPR_REQUEST)
        self._tail = seen[-(len(CPR_REQUEST) - 1) :]
        if self.child is not None:
            for _ in range(requests):
                self.child.send(b"\x1b[1;1R")
        return len(data)


def editor_ran(editor: Path) -> bool:
    """Whether the test editor (the ``editor`` fixture) was started: it leaves this marker."""
    return editor.with_name("editor-ran").exists()


def private_home(home: Path) -> Callable[[], None]:
    """Run in the child: a private mount namespace in which the user's passwd home is ``home``.

    rshell keeps its history under the home directory from the passwd database; this keeps the
    test's history out of the real one without changing how rshell finds it.
    """
    source, target = os.fsencode(home), os.fsencode(pwd.getpwuid(os.getuid()).pw_dir)

    def enter() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if (
            libc.unshare(CLONE_NEWNS) != 0
            or libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0
            or libc.mount(source, target, None, MS_BIND, None) != 0
        ):
            error = ctypes.get_errno()
            raise OSError(error, f"private home: {os.strerror(error)}")

    return enter


@dataclass
class Terminal:
    """One rshell process on a pty, driven by keys and read as a person would read it."""

    child: pexpect.spawn
    answers: CursorAnswers
    home: Path
    consumed: list[str] = field(default_factory=list)

    @classmethod
    def spawn(cls, command: Sequence[str], home: Path, *, extra_env: Mapping[str, str] | None = None) -> Terminal:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm", "LANG": "C.UTF-8", "HOME": str(home)}
        answers = CursorAnswers()
        child = pexpect.spawn(
            command[0],
            list(command[1:]),
            env={**env, **(extra_env or {})},
            dimensions=(ROWS, COLUMNS),
            timeout=TIMEOUT,
            preexec_fn=private_home(home),
        )
        child.logfile_read = answers
        answers.child = child
        return cls(child, answers, home)

    def prompt(self, timeout: float = TIMEOUT) -> str:
        """Wait for a fresh ``rshell>`` prompt; the text shown since the last one."""
        self.child.expect(PROMPT, timeout=timeout)
        return self._take()

    def expect(self, pattern: str | re.Pattern[bytes], timeout: float = TIMEOUT) -> str:
        self.child.expect(pattern, timeout=timeout)
        return self._take()

    def _take(self) -> str:
        assert isinstance(self.child.before, bytes)
        assert isinstance(self.child.after, bytes)
        text = plain(self.child.before + self.child.after)
        self.consumed.append(text)
        return text

    def keys(self, keys: str) -> None:
        self.child.send(keys)

    def shown_line(self) -> str:
        """Redraw the screen (Ctrl-L) and read the line being edited, as the terminal shows it.

        Ctrl-L is handled after the keys sent before it, so the redraw shows their effect, a
        completion from Tab included (the ``-h`` to ``-healthy`` completion test depends on it).
        """
        self.keys("\x0c")
        self.child.expect(REDRAWN_LINE)
        match = self.child.match
        assert isinstance(match, re.Match)
        return plain(match.group(1))

    def line_after_tab(self, expected: str, timeout: float = 3.0) -> str:
        """The edited line once Tab's completion has landed (it runs in a thread, so it may take a
        moment): polled until it shows ``expected`` or ``timeout`` passes; the last line seen."""
        deadline = time.monotonic() + timeout
        shown = self.shown_line()
        while shown != expected and time.monotonic() < deadline:
            time.sleep(0.05)
            shown = self.shown_line()
        return shown

    def run(self, line: str) -> str:
        """Type a line and Enter; what was shown until the prompt came back."""
        self.keys(line + "\r")
        return self.prompt()

    def finish(self, timeout: float = TIMEOUT) -> int:
        """Wait for the process to leave; its exit status."""
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        status = self.child.exitstatus
        assert status is not None, f"rshell died by signal {self.child.signalstatus}"
        return int(status)

    def history(self) -> list[str]:
        """The entries of rshell's history file (prompt_toolkit writes each line of one as ``+line``)."""
        path = self.home / ".local" / "state" / "rshell" / "history"
        entries: list[str] = []
        previous = ""
        for line in path.read_text().splitlines():
            if line.startswith("+") and previous.startswith("+"):
                entries[-1] += "\n" + line[1:]
            elif line.startswith("+"):
                entries.append(line[1:])
            previous = line
        return entries

    def screen(self) -> str:
        """Everything shown so far, as text."""
        return plain(bytes(self.answers.transcript))

    def close(self) -> None:
        if self.child.isalive():
            self.child.close(force=True)
