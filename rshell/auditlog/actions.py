"""``rshellctl audit``: intent and done records joined into one line per action, filtered."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rshell.auditlog.files import chain_files, read_lines
from rshell.auditlog.follow import follow_records
from rshell.errors import ExitStatus, UsageError
from rshell.render.sanitize import sanitize, sanitize_json
from rshell.units import parse_duration

USAGE = (
    "usage: rshellctl audit [FILE] [--policy PATH] [--user U] [--verb V] [--since DURATION]"
    " [--until TIME|DURATION | --follow] [--json]"
)
#: what each action shows, in order
COLUMNS = ("time", "user", "mode", "verb", "target", "decision", "exit", "duration_ms")


@dataclass(frozen=True)
class Filters:
    user: str | None = None
    verb: str | None = None
    since: float | None = None  # epoch seconds
    until: float | None = None  # epoch seconds

    def keep(self, action: dict[str, Any]) -> bool:
        if self.user is not None and action["user"] != self.user:
            return False
        if self.verb is not None and action["verb"] != self.verb:
            return False
        if self.since is None and self.until is None:
            return True
        when = action["time"]
        if not isinstance(when, (int, float)):
            return False
        return (self.since is None or when >= self.since) and (self.until is None or when <= self.until)


def actions(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One action per done record (its intent, when it had one, gives the start time); an intent with no
    done (the process died while it acted) is an action with exit None; approval steps are their own."""
    open_intents: dict[object, dict[str, Any]] = {}
    for record in records:
        phase = record.get("phase")
        if phase == "intent":
            open_intents[record.get("action")] = record
        elif phase == "done":
            intent = open_intents.pop(record.get("action"), None) if "action" in record else None
            yield _action(intent or record, record)
        else:
            yield _action(record, None)
    for intent in open_intents.values():
        yield _action(intent, None)


def _action(first: dict[str, Any], done: dict[str, Any] | None) -> dict[str, Any]:
    last = done or first
    targets = last.get("targets") or []
    names = [str(target.get("name") or target.get("id")) for target in targets if isinstance(target, dict)]
    decision = last.get("decision") if last.get("phase") != "approval" else f"approval {last.get('event')}"
    return {
        "time": first.get("time"),
        "user": last.get("user"),
        "mode": last.get("mode"),
        "verb": last.get("verb"),
        "target": ",".join(names),
        "decision": decision,
        "exit": last.get("exit_code") if done is not None else None,
        "duration_ms": last.get("duration_ms") if done is not None else None,
        "reason": last.get("error") or last.get("reason") or "",
        "request": last.get("request"),
    }


def read_records(paths: Sequence[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        for line in read_lines(path):
            try:
                record = json.loads(line)
            except ValueError:
                continue  # audit verify reports it; the view shows what it can read
            if isinstance(record, dict):
                yield record


def render(action: dict[str, Any]) -> str:
    when = action["time"]
    shown = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)) if isinstance(when, (int, float)) else "?"
    exit_code = "-" if action["exit"] is None else str(action["exit"])
    duration = "-" if action["duration_ms"] is None else f"{action['duration_ms']:g}ms"
    fields = [shown, str(action["user"]), str(action["mode"]), str(action["verb"] or "-")]
    fields += [action["target"] or "-", str(action["decision"]), f"exit {exit_code}", duration]
    if action["request"]:
        fields.append(f"request {action['request']}")
    return sanitize(" ".join(fields))


def audit_program(
    argv: Sequence[str], default_log: Callable[[str | None], Path], write: Callable[[str], object]
) -> int:
    file, policy, filters, as_json, follow = _options(argv)
    path = Path(file) if file else default_log(policy)
    paths = chain_files(path)
    if not paths:
        write(f"audit: {path}: no such file")
        return ExitStatus.FAILED
    records = follow_records(path) if follow else read_records(paths)  # --follow: NDJSON lines as written
    try:
        for action in actions(records):
            if filters.keep(action):
                write(json.dumps(sanitize_json(action), ensure_ascii=True) if as_json else render(action))
                if follow:
                    sys.stdout.flush()
    except OSError as error:
        write(f"audit: cannot read {error.filename}: {error.strerror}")
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    return ExitStatus.OK


def _options(argv: Sequence[str]) -> tuple[str | None, str | None, Filters, bool, bool]:
    file: str | None = None
    values: dict[str, str] = {}
    as_json = follow = False
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--json":
            as_json = True
        elif word == "--follow":
            follow = True
        elif word in ("--policy", "--user", "--verb", "--since", "--until") and words and word not in values:
            values[word] = words.pop(0)
        elif not word.startswith("-") and file is None:
            file = word
        else:
            raise UsageError(USAGE)
    since = None
    if "--since" in values:
        try:
            since = time.time() - parse_duration(values["--since"])
        except ValueError as error:
            raise UsageError(f"audit: --since: {error}") from None
    if follow and "--until" in values:
        raise UsageError("audit: --follow shows records as they come; it takes no --until")
    until = _moment(values["--until"]) if "--until" in values else None
    filters = Filters(values.get("--user"), values.get("--verb"), since, until)
    return file, values.get("--policy"), filters, as_json, follow


def _moment(text: str) -> float:
    """``--until``: an ISO 8601 time (UTC unless it names its offset), or a DURATION ago."""
    with contextlib.suppress(ValueError):
        return time.time() - parse_duration(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"audit: --until: {text[:64]!r} is no time (2026-12-01T10:00:00Z) or duration") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
