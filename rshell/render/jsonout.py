"""Render events as JSON: one document, or NDJSON for streaming verbs; errors as JSON on stderr."""

from __future__ import annotations

import json
from typing import Any

from rshell.errors import RshellError
from rshell.events import Event, LogLines, Record, Result
from rshell.render.streams import Streams


def dumps(document: Any) -> str:
    """ASCII-only JSON: every control character, C1 included, arrives escaped."""
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
                self._emit_many({"line": line} for line in event.lines)
            else:
                self._lines.extend(event.lines)
        elif isinstance(event, Record):
            if self.streaming:
                self._emit(dict(event.data))
            else:
                self._records.append(dict(event.data))
        elif isinstance(event, Result):
            self._result = dict(event.data)
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
        self.streams.stderr.write(dumps({"error": {"code": error.code, "message": error.message}}) + "\n")
        self.streams.stderr.flush()

    def _emit(self, document: Any) -> None:
        self.streams.stdout.write(dumps(document) + "\n")
        self.streams.stdout.flush()

    def _emit_many(self, documents: Any) -> None:
        self.streams.stdout.write("".join(dumps(document) + "\n" for document in documents))
        self.streams.stdout.flush()
