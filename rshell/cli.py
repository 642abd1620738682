"""``rshell``: the login shell. ``main`` is the one place that turns errors into an exit status."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rshell import __version__
from rshell.errors import ExitStatus, PolicyError, RshellError, UsageError
from rshell.policy.loader import DEFAULT_POLICY_PATH
from rshell.render.sanitize import sanitize
from rshell.render.streams import Streams

USAGE = (
    "usage: rshell [--policy FILE] [--local] [--allow-user-owned-policy] [--keep-going] [-l] [-c COMMAND]\n"
    "       rshell --version"
)


@dataclass
class Options:
    policy: Path = DEFAULT_POLICY_PATH
    command: str | None = None
    login: bool = False
    keep_going: bool = False
    allow_user_owned_policy: bool = False
    version: bool = False


def parse_options(argv: Sequence[str]) -> Options:
    """rshell's own few options; anything else is a usage error (sshd only ever passes ``-c``)."""
    options, words = Options(), list(argv)
    while words:
        word = words.pop(0)
        if word == "-c":
            if not words:
                raise UsageError("-c needs a command")
            options.command = words.pop(0)
            if words:
                raise UsageError("rshell -c takes exactly one command string")
        elif word == "--policy" and words:
            options.policy = Path(words.pop(0))
        elif word in ("-l", "--login"):
            options.login = True
        elif word == "--local":
            pass  # the in-process executor is the only one until the broker exists
        elif word == "--keep-going":
            options.keep_going = True
        elif word == "--allow-user-owned-policy":
            options.allow_user_owned_policy = True
        elif word == "--version":
            options.version = True
        else:
            raise UsageError(f"unknown option {sanitize(word)!r}\n{USAGE}")
    return options


def program(argv: Sequence[str], streams: Streams) -> int:
    """The main path, without the last-resort error handling."""
    options = parse_options(argv[1:])
    if argv and argv[0].startswith("-"):
        options.login = True
    if options.version:
        streams.stdout.write(f"rshell {__version__}\n")
        return ExitStatus.OK
    from rshell.session import local_session  # noqa: PLC0415 - keep --version and usage errors cheap

    mode = "c" if options.command is not None else ("repl" if sys.stdin.isatty() else "batch")
    owner = os.getuid() if options.allow_user_owned_policy else None
    session = local_session(options.policy, mode, allow_owner_uid=owner)
    for warning in session.registry.warnings:
        streams.stderr.write(f"rshell: warning: {sanitize(warning)}\n")
    if options.command is not None:
        from rshell.runner import run_line  # noqa: PLC0415

        return run_line(session, options.command, streams)
    if mode == "repl":
        from rshell.repl import run_repl  # noqa: PLC0415 - prompt_toolkit only for people at a terminal

        return run_repl(session, streams)
    from rshell.runner import run_batch  # noqa: PLC0415

    return run_batch(session, sys.stdin.buffer, streams, keep_going=options.keep_going)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: every error becomes one line on stderr and an exit status; never a traceback."""
    streams = Streams.system()
    try:
        return program(list(sys.argv if argv is None else argv), streams)
    except PolicyError as error:
        streams.stderr.write(f"rshell: {sanitize(error.message)}\nrshell: refusing to start\n")
        return error.status
    except RshellError as error:
        streams.stderr.write(f"rshell: {sanitize(error.message)}\n")
        return error.status
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return ExitStatus.FAILED
    except Exception as error:  # the last resort: one line, no traceback
        streams.stderr.write(f"rshell: internal error: {type(error).__name__}: {sanitize(str(error))[:300]}\n")
        return ExitStatus.FAILED


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
