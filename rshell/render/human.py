"""Render events for a person: aligned tables, sanitised text, a progress bar on a terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rshell.errors import RshellError
from rshell.events import (
    Event,
    FieldsView,
    JSONValue,
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
from rshell.render.sanitize import sanitize, sanitize_lines
from rshell.render.streams import Streams

BAR_WIDTH = 30


class HumanRenderer:
    def __init__(self, streams: Streams) -> None:
        self.streams = streams
        self._progress_open = False
        #: lines of the last in-place frame drawn on the terminal (vram --watch)
        self._frame_lines = 0

    def event(self, event: Event) -> None:
        if isinstance(event, Progress):
            self._progress(event)
            return
        self._end_progress()
        if isinstance(event, LogLines):
            self._write("\n".join(sanitize_lines(event.lines)) + "\n" if event.lines else "")
        elif isinstance(event, Record):
            self._record(event)
        elif isinstance(event, Notice):
            self.streams.stderr.write(sanitize(event.text) + "\n")
        elif isinstance(event, Result):
            for view in (event.view, *event.extra_views):
                self._write(render_view(view, event.data))

    def finish(self) -> None:
        self._end_progress()
        self.streams.stdout.flush()

    def error(self, error: RshellError) -> None:
        self._end_progress()
        self.streams.stdout.flush()
        self.streams.stderr.write(f"rshell: {sanitize(error.message)}\n")
        self.streams.stderr.flush()

    def _write(self, text: str) -> None:
        if text:
            self.streams.stdout.write(text)
            self.streams.stdout.flush()

    def _record(self, event: Record) -> None:
        if not (event.frame and self.streams.stdout_is_tty):
            self._write(sanitize(event.text).rstrip("\n") + "\n")
            return
        frame = sanitize(event.frame).rstrip("\n")
        # back to the first line of the previous frame and clear below it (ECMA-48 CPL, ED)
        up = f"\x1b[{self._frame_lines}F\x1b[J" if self._frame_lines else ""
        self._write(f"{up}{frame}\n")
        self._frame_lines = frame.count("\n") + 1

    def _progress(self, event: Progress) -> None:
        label = sanitize(event.label)
        if not self.streams.stderr_is_tty:
            self.streams.stderr.write(f"{label}: {event.done}/{event.total}\n")
            return
        filled = BAR_WIDTH * event.done // max(event.total, 1)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.streams.stderr.write(f"\r\x1b[2K{label} [{bar}] {event.done}/{event.total}")
        self.streams.stderr.flush()
        self._progress_open = True

    def _end_progress(self) -> None:
        if self._progress_open:
            self.streams.stderr.write("\n")
            self._progress_open = False


def render_view(view: View, data: Mapping[str, JSONValue]) -> str:
    """The text of one view of a result, every value sanitised."""
    if isinstance(view, MessageView):
        return sanitize(view.text) + "\n" if view.text else ""
    if isinstance(view, LinesView):
        lines = data.get(view.lines_key) or []
        return "".join(f"{sanitize(str(line))}\n" for line in _sequence(lines))
    if isinstance(view, FieldsView):
        width = max((len(column.title) for column in view.fields), default=0)
        return "".join(f"{column.title + ':':<{width + 1}} {cell(data.get(column.key))}\n" for column in view.fields)
    return _table(view, data)


def _table(view: TableView, data: Mapping[str, JSONValue]) -> str:
    rows = [row for row in _sequence(data.get(view.rows_key) or []) if isinstance(row, Mapping)]
    if not rows:
        return sanitize(view.empty) + "\n"
    grid = [[column.title for column in view.columns]]
    grid += [[cell(row.get(column.key)) for column in view.columns] for row in rows]
    widths = [max(len(line[index]) for line in grid) for index in range(len(view.columns))]
    return "".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() + "\n" for line in grid
    )


def cell(value: JSONValue) -> str:
    """One value as table text: '-' for nothing, lists joined with commas."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(item) for item in value) or "-"
    return sanitize(str(value)).replace("\n", " ")


def _sequence(value: JSONValue) -> Sequence[JSONValue]:
    return value if isinstance(value, (list, tuple)) else ()
