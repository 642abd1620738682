"""What the launcher runs: ``python -I -c LOGIN_CODE LAUNCHER SOCKET [-c LINE]`` (rshell.launcher).

It refuses to start when the account could change the code it is about to run (the launcher,
Python, the rshell packages), then hands over to ``rshell.cli`` on the broker's socket. Only the
two shapes sshd produces are accepted: nothing (a login) or ``-c LINE``.
"""

from __future__ import annotations

import os
import sys

from rshell.errors import ExitStatus

#: typing is not imported on the start-up path; mypy treats this name as True
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

USAGE = "usage: rshell-login [-c COMMAND]"


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if len(words) < 2:
        sys.stderr.write("rshell: the launcher must pass its own path and the broker socket\n")
        return ExitStatus.USAGE
    launcher, socket, rest = words[0], words[1], words[2:]
    if not (rest == [] or (len(rest) == 2 and rest[0] == "-c")):
        sys.stderr.write(f"rshell: {USAGE}\n")
        return ExitStatus.USAGE
    problems = refusals(launcher)
    if problems:
        sys.stderr.write(f"rshell: refusing to start: {problems[0]}; ask the administrator to run rshellctl doctor\n")
        return ExitStatus.FAILED
    from rshell.cli import main as cli_main  # noqa: PLC0415

    return cli_main(["rshell", "--broker", socket, *rest])


def refusals(launcher: str) -> list[str]:
    """Why this user must not be served by this installation (nothing for root)."""
    if os.getuid() == 0:
        return []
    from rshell.codeguard import running_paths, unsafe_for_me  # noqa: PLC0415

    return unsafe_for_me(running_paths(launcher))


if __name__ == "__main__":
    sys.exit(main())
