"""Events as JSON objects and back, so the broker's verbs render the same in the thin client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rshell.events import (
    Column,
    Event,
    FieldsView,
    LinesView,
    LogLines,
    MessageView,
    Notice,
    Progress,
    Record,
    Result,
    TableView,
    View,
)


class WireError(ValueError):
    """A message that does not describe an event or view."""


def event_to_wire(event: Event) -> dict[str, Any]:
    if isinstance(event, Result):
        views = [view_to_wire(view) for view in (event.view, *event.extra_views)]
        return {"event": "result", "data": dict(event.data), "views": views}
    if isinstance(event, LogLines):
        return {"event": "lines", "lines": list(event.lines)}
    if isinstance(event, Progress):
        return {"event": "progress", "label": event.label, "done": event.done, "total": event.total}
    if isinstance(event, Notice):
        return {"event": "notice", "text": event.text}
    return {"event": "record", "data": dict(event.data), "text": event.text}


def event_from_wire(message: Mapping[str, Any]) -> Event:
    kind = message.get("event")
    try:
        if kind == "result":
            views = [view_from_wire(view) for view in message["views"]]
            return Result(_mapping(message["data"]), views[0], tuple(views[1:]))
        if kind == "lines":
            return LogLines(tuple(str(line) for line in message["lines"]))
        if kind == "progress":
            return Progress(str(message["label"]), int(message["done"]), int(message["total"]))
        if kind == "notice":
            return Notice(str(message["text"]))
        if kind == "record":
            return Record(_mapping(message["data"]), str(message["text"]))
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise WireError(f"malformed {kind} event: {error}") from None
    raise WireError(f"unknown event {kind!r}")


def view_to_wire(view: View) -> dict[str, Any]:
    if isinstance(view, TableView):
        columns = [[column.key, column.title] for column in view.columns]
        return {"view": "table", "rows_key": view.rows_key, "columns": columns, "empty": view.empty}
    if isinstance(view, FieldsView):
        return {"view": "fields", "fields": [[column.key, column.title] for column in view.fields]}
    if isinstance(view, MessageView):
        return {"view": "message", "text": view.text}
    return {"view": "lines", "lines_key": view.lines_key}


def view_from_wire(message: Mapping[str, Any]) -> View:
    kind = message.get("view")
    if kind == "table":
        columns = tuple(Column(str(key), str(title)) for key, title in message["columns"])
        return TableView(str(message["rows_key"]), columns, str(message["empty"]))
    if kind == "fields":
        return FieldsView(tuple(Column(str(key), str(title)) for key, title in message["fields"]))
    if kind == "message":
        return MessageView(str(message["text"]))
    if kind == "lines":
        return LinesView(str(message["lines_key"]))
    raise WireError(f"unknown view {kind!r}")


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError("data must be an object")
    return value
