"""An interactive login on a pseudo-terminal (``ssh -tt``): prompt, Tab completion, a verb, ``exit``."""

from __future__ import annotations

import io
import re

import pexpect

from tests.e2e.deployment import CLIENT_ENV, USER, Deployment

#: a fresh prompt: bracketed paste on, then ``rshell>`` (prompt_toolkit draws the space as a cursor move)
PROMPT = re.compile(rb"\x1b\[\?2004h(?:\x1b\[[0-9;?]*[A-Za-z])*rshell>")
CPR_REQUEST = b"\x1b[6n"
TIMEOUT = 15


class CursorAnswers(io.RawIOBase):
    """pexpect's ``logfile_read``: answers prompt_toolkit's cursor position requests as a terminal would."""

    def __init__(self) -> None:
        super().__init__()
        self.child: pexpect.spawn | None = None
        self.transcript = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.transcript += data
        if self.child is not None:
            for _ in range(bytes(data).count(CPR_REQUEST)):
                self.child.send(b"\x1b[1;1R")
        return len(data)


def login(deployment: Deployment) -> tuple[pexpect.spawn, CursorAnswers]:
    command = deployment.client("ssh", "-p", "-tt", f"{USER}@127.0.0.1")
    answers = CursorAnswers()
    child = pexpect.spawn(
        command[0], command[1:], env={**CLIENT_ENV, "TERM": "xterm"}, dimensions=(30, 120), timeout=TIMEOUT
    )
    child.logfile_read = answers
    answers.child = child
    return child, answers


def test_interactive_login_completes_runs_and_exits(deployment: Deployment) -> None:
    child, answers = login(deployment)
    try:
        child.expect(PROMPT)
        prefix = deployment.web[:-2]
        child.send(f"logs {prefix}\t")
        child.expect(re.escape(deployment.web[-2:].encode()))  # Tab asked the broker and drew the rest of the name
        child.send(" --tail 2\r")
        child.expect(rb"49\s+50")
        child.expect(PROMPT)
        child.send("exit\r")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, bytes(answers.transcript)
    finally:
        if child.isalive():
            child.close(force=True)


def test_interactive_shell_refuses_shell_syntax(deployment: Deployment) -> None:
    child, answers = login(deployment)
    try:
        child.expect(PROMPT)
        child.send("ps; id\r")
        child.expect(PROMPT)
        child.send("exit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert b"uid=" not in answers.transcript
