"""``rshellctl status``: is the broker up, which policy does it enforce, which version does it run."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from rshell import __version__
from rshell.defaults import DEFAULT_SOCKET
from rshell.errors import ExitStatus, RshellError, UsageError
from rshell.render.sanitize import sanitize

USAGE = "usage: rshellctl status [--socket PATH] [--json]"
#: what the broker reports, in the order it is shown
FIELDS = ("version", "policy", "engine", "user", "role")


def parse_status_options(argv: Sequence[str]) -> tuple[str, bool]:
    """The socket to ask (default the broker's) and whether to answer in JSON."""
    socket_path, as_json, words = DEFAULT_SOCKET, False, list(argv)
    while words:
        word = words.pop(0)
        if word == "--socket" and words:
            socket_path = words.pop(0)
        elif word == "--json":
            as_json = True
        else:
            raise UsageError(USAGE)
    return socket_path, as_json


def broker_status(socket_path: str) -> dict[str, Any]:
    """The broker's own answer to a status request, or why there is none."""
    from rshell.client import BrokerBackend, RemoteError  # noqa: PLC0415 - the other subcommands do not need it
    from rshell.render.streams import Streams  # noqa: PLC0415

    try:
        answer = BrokerBackend(socket_path, "c", Streams()).status()
    except RemoteError as error:  # it answered, with a refusal (a cap of the caller's uid, say)
        return {"up": True, "socket": socket_path, "refused": error.message, "status": error.status}
    except RshellError as error:
        return {"up": False, "socket": socket_path, "error": error.message}
    return {"up": True, "socket": socket_path} | {field: answer.get(field) for field in FIELDS}


def describe(report: dict[str, Any]) -> list[str]:
    if not report["up"]:
        return [f"rshelld: down: {report['error']}"]
    if "refused" in report:
        return [f"rshelld: up on {report['socket']}, but it refused this request: {report['refused']}"]
    version = str(report["version"])
    stale = "" if version == __version__ else f" (rshellctl is {__version__}: restart rshelld after an upgrade)"
    return [
        f"rshelld: up on {report['socket']}",
        f"version: {version}{stale}",
        f"policy: {report['policy']}",
        f"engine: {report['engine']}",
        f"you: {report['user']}, role {report['role'] or 'none (every verb denied)'}",
    ]


def status_program(argv: Sequence[str], write: Callable[[str], object] = print) -> int:
    """Report on the broker; exit 0 when it answered, 1 when it did not, its status when it refused."""
    socket_path, as_json = parse_status_options(argv)
    report = broker_status(socket_path)
    if as_json:
        write(json.dumps(report, ensure_ascii=True))
    else:
        for line in describe(report):
            write(sanitize(line))
    if not report["up"]:
        return ExitStatus.FAILED
    return int(report.get("status", ExitStatus.OK))
