"""Render events as JSON: one document, or NDJSON for streaming verbs; errors as JSON on stderr.

Every string a document carries goes through the one sanitiser (``sanitize_json``) before ``dumps``.
"""

from __future__ import annotations

import json
from typing import Any

from rshell.errors import RshellError
from rshell.events import Event, LogLines, Record, Result
from rshell.render.sanitize import sanitize, sanitize_json, sanitize_lines
from rshell.render.streams import Streams


def dumps(document: Any) -> str:
    """ASCII-only JSON: every non-ASCII character arrives escaped (callers sanitise untrusted text first)."""
    return json.dumps(document, ensure_ascii=True, separators=(",", ":"), default=str)


class JsonRenderer:
    def __init__(self, streams: Streams, *, streaming: bool) -> None:
        self.streams = streams
        self.streaming = streaming
        self._lines: list[str] = []
        self._records: list[Any] = []
        self._result: dict[str, Any] | None = None

    def event(self, event: Event) -> None:
        if isinstance(event, LogLines):
            if self.streaming:
                self._emit_many({"line": line} for line in sanitize_lines(event.lines))
            else:
                self._lines.extend(sanitize_lines(event.lines))
        elif isinstance(event, Record):
            if self.streaming:
                self._emit(sanitize_json(dict(event.data)))
            else:
                self._records.append(sanitize_json(dict(event.data)))
        elif isinstance(event, Result):
            self._result = sanitize_json(dict(event.data))
            if self.streaming:
                self._emit(self._result)

    def finish(self) -> None:
        if self.streaming:
            return
        document = dict(self._result or {})
        if self._lines:
            document.setdefault("lines", self._lines)
        if self._records:
            document.setdefault("records", self._records)
        self._emit(document)

    def error(self, error: RshellError) -> None:
        if self._result is not None and not self.streaming:
            self.finish()
        self.streams.stderr.write(dumps({"error": {"code": error.code, "message": sanitize(error.message)}}) + "\n")
        self.streams.stderr.flush()

    def _emit(self, document: Any) -> None:
        self.streams.stdout.write(dumps(document) + "\n")
        self.streams.stdout.flush()

    def _emit_many(self, documents: Any) -> None:
        self.streams.stdout.write("".join(dumps(document) + "\n" for document in documents))
        self.streams.stdout.flush()
