"""``rshell``: the login shell. ``main`` is the one place that turns errors into an exit status."""

from __future__ import annotations

import os
import sys

from rshell import __version__
from rshell.defaults import DEFAULT_POLICY_PATH, DEFAULT_SOCKET
from rshell.errors import Denied, ExitStatus, PolicyError, RshellError, UsageError
from rshell.render.sanitize import sanitize
from rshell.render.streams import Streams

#: typing is not imported on the client's start-up path; mypy treats this name as True
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rshell.backend import Backend

USAGE = (
    "usage: rshell [--broker SOCKET | --local [--policy FILE] [--allow-user-owned-policy]] [--keep-going] [-l]"
    " [-c COMMAND]\n       rshell --version"
)


class Options:
    """rshell's own options (a plain class: dataclasses cost start-up time on every ssh command)."""

    def __init__(self) -> None:
        self.policy: str | None = None
        self.broker: str | None = None
        self.local = False
        self.command: str | None = None
        self.keep_going = False
        self.allow_user_owned_policy = False
        self.version = False


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
            options.policy = words.pop(0)
        elif word in ("-l", "--login"):
            pass  # a login is a session like any other: the REPL on a terminal, batch otherwise
        elif word == "--local":
            options.local = True
        elif word == "--broker" and words:
            options.broker = words.pop(0)
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
    options = parse_options(argv[1:])  # argv[0] may start with "-" (a login): the mode is the same
    if options.version:
        streams.stdout.write(f"rshell {__version__}\n")
        return ExitStatus.OK
    mode = "c" if options.command is not None else ("repl" if sys.stdin.isatty() else "batch")
    backend = make_backend(options, mode, streams)
    if options.command is not None:
        if options.command.split() == ["mcp"]:
            return _serve_mcp(backend)
        return backend.run(options.command)
    if mode == "repl":
        from rshell.repl import run_repl  # noqa: PLC0415 - prompt_toolkit only for people at a terminal

        return run_repl(backend, streams)
    from rshell.runner import run_batch  # noqa: PLC0415

    return run_batch(backend.run, sys.stdin.buffer, keep_going=options.keep_going)


def uses_broker(options: Options) -> bool:
    """The broker unless told otherwise: ``--local`` or ``--policy`` mean in-process; ``--broker``
    names the socket; with neither, the broker's default socket is used when it exists."""
    if options.broker is not None:
        return True
    if options.local or options.policy is not None:
        return False
    return os.path.exists(DEFAULT_SOCKET)


def make_backend(options: Options, mode: str, streams: Streams) -> Backend:
    if uses_broker(options):
        if options.allow_user_owned_policy:
            raise UsageError("--allow-user-owned-policy is for --local mode only")
        from rshell.client import BrokerBackend  # noqa: PLC0415

        return BrokerBackend(options.broker or DEFAULT_SOCKET, mode, streams)
    from pathlib import Path  # noqa: PLC0415

    from rshell.backend import LocalBackend  # noqa: PLC0415
    from rshell.session import local_session  # noqa: PLC0415 - keep --version and usage errors cheap

    owner = os.getuid() if options.allow_user_owned_policy else None
    session = local_session(Path(options.policy or DEFAULT_POLICY_PATH), mode, allow_owner_uid=owner)
    for warning in session.registry.warnings:
        streams.stderr.write(f"rshell: warning: {sanitize(warning)}\n")
    return LocalBackend(session, streams)


def _serve_mcp(backend: Backend) -> int:
    """``mcp`` as the whole command: an MCP server on stdin/stdout, in the broker or in-process."""
    from rshell.backend import LocalBackend  # noqa: PLC0415
    from rshell.client import BrokerBackend  # noqa: PLC0415

    if isinstance(backend, BrokerBackend):
        return backend.mcp()
    assert isinstance(backend, LocalBackend)
    decision = backend.session.view.decide_verb("mcp")
    if not decision.allowed:
        from rshell.executor import audit_refused_line  # noqa: PLC0415

        audit_refused_line(backend.session, "mcp", Denied(decision.reason))
        raise Denied(decision.reason)
    from rshell.mcp.server import run_mcp  # noqa: PLC0415 - the MCP SDK only for MCP sessions

    return run_mcp(backend.session)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: every error becomes one line on stderr and an exit status; never a traceback."""
    streams = Streams.system()
    try:
        return program(list(sys.argv if argv is None else argv), streams)
    except PolicyError as error:
        streams.stderr.write(f"rshell: {sanitize(error.message)}; refusing to start\n")
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
