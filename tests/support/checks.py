"""What every refusal must look like to the user: its exit code, one line on stderr, no traceback."""

from __future__ import annotations

import json

from tests.support.shell import Outcome

CODES = {1: "failed", 2: "usage", 126: "denied", 127: "unknown_verb", 130: "interrupted"}


def refusal(outcome: Outcome, status: int, fragment: str = "", *, json_error: bool = False) -> str:
    """Assert a failure with ``status`` whose one-line message contains ``fragment``; return the message.

    Progress notices a verb printed before failing ("restarting NAME ...") are not error lines.
    """
    assert outcome.status == status, f"exit {outcome.status}, wanted {status}: {outcome.stderr!r}"
    assert "Traceback" not in outcome.stderr, outcome.stderr
    lines = [line for line in outcome.stderr.splitlines() if not line.endswith(" ...")]
    assert len(lines) == 1, f"wanted one error line: {outcome.stderr!r}"
    if json_error:
        error = json.loads(lines[0])["error"]
        assert error["code"] == CODES[status], error
        message = str(error["message"])
    else:
        assert lines[0].startswith("rshell: "), lines[0]
        message = lines[0].removeprefix("rshell: ")
    assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def success(outcome: Outcome) -> Outcome:
    assert outcome.status == 0, f"exit {outcome.status}: {outcome.stderr!r}"
    assert "Traceback" not in outcome.stderr, outcome.stderr
    return outcome
