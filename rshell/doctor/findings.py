"""A finding is one check's verdict (ok, warn or FAIL), what was seen, and the fix."""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rshell.render.sanitize import sanitize


class Status(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    message: str
    fix: str = ""


def ok(check: str, message: str) -> Finding:
    return Finding(check, Status.OK, message)


def warn(check: str, message: str, fix: str) -> Finding:
    return Finding(check, Status.WARN, message, fix)


def fail(check: str, message: str, fix: str) -> Finding:
    return Finding(check, Status.FAIL, message, fix)


def failed(findings: Sequence[Finding]) -> bool:
    return any(finding.status is Status.FAIL for finding in findings)


def render_text(user: str, findings: Sequence[Finding]) -> str:
    lines = []
    for finding in findings:
        lines.append(f"{finding.status.value:<4}  {finding.check}: {sanitize(finding.message)}")
        if finding.fix and finding.status is not Status.OK:
            lines.append(f"      fix: {sanitize(finding.fix)}")
    counts = {status: sum(f.status is status for f in findings) for status in Status}
    summary = ", ".join(f"{counts[status]} {status.value}" for status in Status)
    verdict = "NOT SAFE to hand to an agent" if failed(findings) else "no failures"
    lines.append(f"rshell doctor for {sanitize(user)}: {summary}: {verdict}")
    return "\n".join(lines)


def render_json(user: str, findings: Sequence[Finding]) -> str:
    items = [{**asdict(finding), "status": finding.status.value} for finding in findings]
    return json.dumps({"user": user, "ok": not failed(findings), "findings": items}, ensure_ascii=True, indent=2)
