"""A verb's events as a tool result: the ``--json`` document as structured content, errors as tool errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

from rshell.errors import RshellError
from rshell.events import Event, LogLines, Record, Result
from rshell.render.jsonout import dumps


@dataclass
class Collected:
    """What a call produced so far, gathered the way the non-streaming JSON renderer does."""

    result: dict[str, Any] | None = None
    lines: list[str] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)

    def add(self, event: Event) -> None:
        if isinstance(event, LogLines):
            self.lines.extend(event.lines)
        elif isinstance(event, Record):
            self.records.append(dict(event.data))
        elif isinstance(event, Result):
            self.result = dict(event.data)

    def document(self) -> dict[str, Any]:
        """The verb's ``--json`` document, made of plain JSON values."""
        document = dict(self.result or {})
        if self.lines:
            document.setdefault("lines", self.lines)
        if self.records:
            document.setdefault("records", self.records)
        plain: dict[str, Any] = json.loads(dumps(document))
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
    detail: dict[str, Any] = {"code": error.code, "message": error.message, "exit_code": int(error.status)}
    structured: dict[str, Any] = {"error": detail}
    if collected is not None and collected.has_output:
        structured["partial"] = collected.document()
    text = types.TextContent(text=f"{error.code}: {error.message}")
    return types.CallToolResult(content=[text], structured_content=structured, is_error=True)
