"""``rshelld``: listen on a unix socket, serve each connection in a thread, reload on SIGHUP."""

from __future__ import annotations

import contextlib
import grp
import os
import signal
import socket
import stat
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from rshell.broker.handler import handle_connection
from rshell.broker.state import BrokerState, log
from rshell.defaults import DEFAULT_POLICY_PATH, DEFAULT_SOCKET
from rshell.errors import ExitStatus, PolicyError, RshellError, UsageError, VerbFailed

USAGE = "usage: rshelld [--policy FILE] [--socket PATH] [--socket-group GROUP] [--send-timeout SECONDS]"
BACKLOG = 512
#: how long to wait after a failed accept (out of descriptors) before accepting again
ACCEPT_BACKOFF = 0.1


@dataclass
class BrokerOptions:
    policy: Path = Path(DEFAULT_POLICY_PATH)
    socket: Path = Path(DEFAULT_SOCKET)
    socket_group: str = "rshell"
    #: how long a client may leave the broker's output unread before its request is ended
    send_timeout: float = 60.0


def parse_options(argv: Sequence[str]) -> BrokerOptions:
    options, words = BrokerOptions(), list(argv)
    while words:
        word = words.pop(0)
        if word == "--send-timeout" and words:
            options.send_timeout = _seconds(words.pop(0))
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
    return options


def _seconds(text: str) -> float:
    if not text.isdigit() or not 1 <= int(text) <= 3600:
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
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise UsageError(f"{path} exists and is not a socket; refusing to replace it")
        path.unlink()
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


def serve(server: socket.socket, state: BrokerState, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except OSError as error:
            if stop.is_set():
                return
            log(f"accept failed: {error}")  # out of descriptors: wait for some to close, do not spin
            time.sleep(ACCEPT_BACKOFF)
            continue
        try:
            threading.Thread(target=handle_connection, args=(conn, state), daemon=True).start()
        except RuntimeError as error:  # no thread to spare: refuse this caller, keep serving the others
            log(f"refusing a connection: {error}")
            conn.close()


def program(argv: Sequence[str]) -> int:
    options = parse_options(argv)
    state = BrokerState(options.policy, send_timeout=options.send_timeout)
    server = listen(options.socket, options.socket_group)
    stop = threading.Event()

    def reload(_signum: int, _frame: FrameType | None) -> None:
        state.reload()

    def terminate(_signum: int, _frame: FrameType | None) -> None:
        stop.set()
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)

    signal.signal(signal.SIGHUP, reload)
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    log(f"listening on {options.socket} (group {options.socket_group}), policy {options.policy}")
    try:
        serve(server, state, stop)
    finally:
        server.close()
        with contextlib.suppress(OSError):
            options.socket.unlink()
    log("stopped")
    return ExitStatus.OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return program(sys.argv[1:] if argv is None else argv)
    except PolicyError as error:
        log(f"{error.message}; refusing to start")
        return error.status
    except RshellError as error:
        log(error.message)
        return error.status
    except Exception as error:  # one line, never a traceback
        log(f"internal error: {type(error).__name__}: {error}")
        return ExitStatus.FAILED


if __name__ == "__main__":
    sys.exit(main())
