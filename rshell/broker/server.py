"""``rshelld``: its options and caps, its socket, signals (SIGHUP reloads, SIGTERM stops within ~2 s)."""

from __future__ import annotations

import contextlib
import grp
import os
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType

from rshell.broker.acceptor import Server
from rshell.broker.caps import FLAGS, Caps
from rshell.broker.lanes import Lanes
from rshell.broker.socketdir import prepare_socket_path
from rshell.broker.state import BrokerState, log
from rshell.defaults import DEFAULT_POLICY_PATH, DEFAULT_SOCKET
from rshell.errors import ExitStatus, PolicyError, RshellError, UsageError, VerbFailed

USAGE = (
    "usage: rshelld [--policy FILE] [--socket PATH] [--socket-group GROUP] [--send-timeout SECONDS]\n"
    "               [--max-connections-per-uid N] [--connection-rate-per-uid N] [--max-threads N]\n"
    "               [--engine-connections N]"
    " [--max-follows N] [--max-follows-per-uid N] [--mcp-rate-per-uid N]"
)
BACKLOG = 512
#: after SIGTERM, how long running requests get to finish before the broker exits regardless
STOP_GRACE_SECONDS = 1.5


@dataclass
class BrokerOptions:
    policy: Path = Path(DEFAULT_POLICY_PATH)
    socket: Path = Path(DEFAULT_SOCKET)
    socket_group: str = "rshell"
    #: how long a client may leave the broker's output unread before its request is ended
    send_timeout: float = 60.0
    caps: Caps = field(default_factory=Caps)


def parse_options(argv: Sequence[str]) -> BrokerOptions:
    options, words = BrokerOptions(), list(argv)
    while words:
        word = words.pop(0)
        if word == "--send-timeout" and words:
            options.send_timeout = _seconds(words.pop(0))
        elif word in FLAGS and words:
            options.caps = replace(options.caps, **{FLAGS[word]: _count(word, words.pop(0))})
        elif word in ("--policy", "--socket", "--socket-group") and words:
            value = words.pop(0)
            if word == "--policy":
                options.policy = Path(value)
            elif word == "--socket":
                options.socket = Path(value)
            else:
                options.socket_group = value
        else:
            raise UsageError(f"unknown option {word!r}\n{USAGE}")
    try:
        options.caps.check()
    except ValueError as error:
        raise UsageError(str(error)) from None
    return options


def _count(flag: str, text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 1_000_000:
        raise UsageError(f"{flag} takes a whole number from 1 to 1000000, not {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 3600:
        raise UsageError(f"--send-timeout takes whole seconds from 1 to 3600, not {text!r}")
    return float(text)


def listen(path: Path, group: str) -> socket.socket:
    """Bind the socket: owned by the broker's user, mode 0660, group ``group`` (only its members may connect)."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise UsageError(f"socket group {group!r} does not exist: create it and add the agent's user to it") from None
    try:
        return _bind(path, gid)
    except OSError as error:
        raise VerbFailed(f"cannot listen on {path}: {error.strerror or error}") from None


def _bind(path: Path, gid: int) -> socket.socket:
    prepare_socket_path(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        server.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chown(path, -1, gid)  # the owner stays the broker: root, or its dedicated user
    os.chmod(path, 0o660)
    server.listen(BACKLOG)
    return server


def program(argv: Sequence[str]) -> int:
    options = parse_options(argv)
    state = BrokerState(options.policy, send_timeout=options.send_timeout, caps=options.caps)
    lanes = Lanes(options.socket)
    server = Server(listen(options.socket, options.socket_group), state, options.caps, lanes, options.socket_group)
    lanes.prepare()  # only now: the shared socket is ours (prepare_socket_path refused a live broker's)

    def reload(_signum: int, _frame: FrameType | None) -> None:
        state.reload()

    def terminate(_signum: int, _frame: FrameType | None) -> None:
        server.stop.set()
        with contextlib.suppress(OSError):
            server.server.shutdown(socket.SHUT_RDWR)

    signal.signal(signal.SIGHUP, reload)
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    wake, wakeup = socket.socketpair()  # a signal caught by any thread wakes the accept loop (Server.serve)
    for end in (wake, wakeup):
        end.setblocking(False)
    signal.set_wakeup_fd(wakeup.fileno(), warn_on_full_buffer=False)
    log(f"listening on {options.socket} (group {options.socket_group}), policy {options.policy}, {options.caps}")
    try:
        server.serve(wake)
    finally:
        server.server.close()
        lanes.close_all()
        with contextlib.suppress(OSError):
            options.socket.unlink()
    server.refusals.report_all()
    server.wait_for_requests(STOP_GRACE_SECONDS)
    state.audit.flush()  # summaries of suppressed records still pending: main() ends with os._exit
    log("stopped")
    return ExitStatus.OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = program(sys.argv[1:] if argv is None else argv)
    except PolicyError as error:
        log(f"{error.message}; refusing to start")
        return error.status
    except RshellError as error:
        log(error.message)
        return error.status
    except Exception as error:  # one line, never a traceback
        log(f"internal error: {type(error).__name__}: {error}")
        return ExitStatus.FAILED
    # requests still running after the grace (an idle MCP session, a follow) end with the process:
    # interpreter shutdown would wait on every non-daemon thread their libraries started
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
