"""A verb's events as a tool result: the ``--json`` document as structured content, errors as tool errors.

Every string that leaves goes through the one sanitiser. A container's output is put under an
envelope that says where it came from (``{"untrusted": true, "source": "container", "lines": [...]}``)
so an agent framework can fence it off from instructions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

from rshell.errors import RshellError
from rshell.events import Event, LogLines, Record, Result
from rshell.render.jsonout import dumps
from rshell.render.sanitize import sanitize, sanitize_json, sanitize_lines

#: the key under which a call's container output travels, inside its envelope
OUTPUT = "output"


def untrusted(lines: list[str] | tuple[str, ...], source: str = "container") -> dict[str, Any]:
    """Text an agent must treat as data, never as instructions: sanitised, and marked as such."""
    return {"untrusted": True, "source": source, "lines": sanitize_lines(lines)}


def clean(value: Any) -> Any:
    """The same JSON value with every string (keys too) through the sanitiser."""
    return sanitize_json(value)


@dataclass
class Collected:
    """What a call produced so far, gathered the way the non-streaming JSON renderer does."""

    result: dict[str, Any] | None = None
    lines: list[str] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)
    #: why a follow stopped when it did not end by itself ("deadline")
    ended: str | None = None

    def add(self, event: Event) -> None:
        if isinstance(event, LogLines):
            self.lines.extend(event.lines)
        elif isinstance(event, Record):
            self.records.append(dict(event.data))
        elif isinstance(event, Result):
            self.result = dict(event.data)

    def document(self) -> dict[str, Any]:
        """The verb's ``--json`` document, made of plain, sanitised JSON values."""
        plain: dict[str, Any] = clean(json.loads(dumps(dict(self.result or {}))))
        if self.records:
            plain.setdefault("records", clean(json.loads(dumps(self.records))))
        if self.lines or "line_count" in plain or self.ended:
            plain[OUTPUT] = untrusted(self.lines)
        if self.ended:
            plain["ended"] = self.ended
            plain["line_count"] = len(self.lines)
        return plain

    @property
    def has_output(self) -> bool:
        return self.result is not None or bool(self.lines or self.records)


def success(collected: Collected) -> types.CallToolResult:
    document = collected.document()
    text = types.TextContent(text=dumps(document))
    return types.CallToolResult(content=[text], structured_content=document)


def failure(error: RshellError, collected: Collected | None = None) -> types.CallToolResult:
    """A tool error (``isError``): the one-line message and its code; partial output comes along."""
    message = sanitize(error.message)
    detail: dict[str, Any] = {"code": error.code, "message": message, "exit_code": int(error.status)}
    structured: dict[str, Any] = {"error": detail}
    if collected is not None and collected.has_output:
        structured["partial"] = collected.document()
    text = types.TextContent(text=f"{error.code}: {message}")
    return types.CallToolResult(content=[text], structured_content=structured, is_error=True)
