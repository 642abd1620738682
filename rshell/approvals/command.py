"""``rshellctl requests [--json]``, ``approve ID [--reason TEXT]``, ``deny ID --reason TEXT``, via the broker."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from rshell.defaults import DEFAULT_SOCKET
from rshell.errors import ExitStatus, UsageError
from rshell.render.sanitize import sanitize, sanitize_json

#: how often ``requests --follow`` asks the broker
FOLLOW_SECONDS = 1.0
USAGE = (
    "usage: rshellctl requests [--json] [--follow] [--socket PATH]\n"
    "       rshellctl approve ID [--reason TEXT] [--socket PATH]\n"
    "       rshellctl deny ID --reason TEXT [--socket PATH]"
)


def approvals_program(argv: Sequence[str], write: Callable[[str], object] = print) -> int:
    op = argv[0]
    options, positional, as_json, follow = _parse(op, list(argv[1:]))
    socket_path = options.get("--socket", DEFAULT_SOCKET)
    if follow:
        return _follow(socket_path, as_json, write)
    message: dict[str, Any] = {"op": op}
    if positional:
        message |= {"id": positional[0].lower(), "reason": options.get("--reason", "")}
    answer = _ask(socket_path, message)
    if as_json:
        write(json.dumps(sanitize_json(answer.get("requests", answer.get("request"))), ensure_ascii=True))
    elif op == "requests":
        rows = answer.get("requests") or []
        for request in rows:
            write(sanitize(describe(request)))
        if not rows:
            write("no requests")
    else:
        request = answer.get("request") or {}
        write(sanitize(f"request {request.get('id')}: {request.get('state')} ({describe(request)})"))
    return ExitStatus.OK


def _parse(op: str, words: list[str]) -> tuple[dict[str, str], list[str], bool, bool]:
    options: dict[str, str] = {}
    positional: list[str] = []
    as_json = follow = False
    while words:
        word = words.pop(0)
        if word == "--json":
            as_json = True
        elif word == "--follow" and op == "requests":
            follow = True
        elif word in ("--reason", "--socket") and words and word not in options:
            options[word] = words.pop(0)
        elif not word.startswith("-") and not positional and op != "requests":
            positional.append(word)
        else:
            raise UsageError(USAGE)
    if (op != "requests") != bool(positional) or (op == "deny" and "--reason" not in options):
        raise UsageError(USAGE)
    return options, positional, as_json, follow


def describe(request: dict[str, Any]) -> str:
    """One line: ID, state, who asked, what exactly, why, and until when."""
    shown, requester = request.get("shown") or {}, request.get("requester") or {}
    argv = " ".join(str(word) for word in [shown.get("verb"), *(shown.get("argv") or [])])
    targets = ",".join(f"{t.get('name')}={str(t.get('id'))[:12]}" for t in shown.get("targets") or [])
    expires = request.get("expires")
    left = f"expires in {max(0, round(float(expires) - time.time()))}s" if isinstance(expires, (int, float)) else ""
    decided = request.get("decided_by") or {}
    by = f" by {decided.get('user')}: {request.get('decision_reason') or '-'}" if decided else ""
    return (
        f"{request.get('id')} {request.get('state')}{by} | {requester.get('user')} (role {request.get('role')}) asks:"
        f" {argv} [{targets}] | reason: {request.get('reason') or '-'} | {left}"
    )


def _follow(socket_path: str, as_json: bool, write: Callable[[str], object]) -> int:
    """One line per event until interrupted: each request as it appears (``requested``) and each change of
    its state after that (approved, denied, expired, ran); with --json, NDJSON ``{"event", "request"}``."""
    seen: dict[str, object] = {}
    try:
        while True:
            for request in reversed(_ask(socket_path, {"op": "requests"}).get("requests") or []):
                ident, state = str(request.get("id")), request.get("state")
                if seen.get(ident) == state:
                    continue
                event = "requested" if ident not in seen and state == "pending" else str(state)
                seen[ident] = state
                if as_json:
                    write(json.dumps({"event": event, "request": sanitize_json(request)}, ensure_ascii=True))
                else:
                    write(sanitize(f"{event}: {describe(request)}"))
                flush = getattr(sys.stdout, "flush", None)
                if flush is not None:
                    flush()
            time.sleep(FOLLOW_SECONDS)
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED


def _ask(socket_path: str, message: dict[str, Any]) -> dict[str, Any]:
    from rshell.client import BrokerBackend  # noqa: PLC0415
    from rshell.render.streams import Streams  # noqa: PLC0415

    return BrokerBackend(socket_path, "c", Streams()).ask(message, str(message["op"]))
