"""What verbs yield: structured events the renderers turn into text or JSON. A verb never prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

JSONValue: TypeAlias = bool | int | float | str | Sequence["JSONValue"] | Mapping[str, "JSONValue"] | None


@dataclass(frozen=True)
class Column:
    """One column of a human table: the row key it shows and its heading."""

    key: str
    title: str


@dataclass(frozen=True)
class TableView:
    """Show ``data[rows_key]`` (a list of objects) as a table; ``empty`` when there are no rows."""

    rows_key: str
    columns: tuple[Column, ...]
    empty: str = "(nothing to show)"


@dataclass(frozen=True)
class FieldsView:
    """Show chosen keys of ``data`` as ``label: value`` lines."""

    fields: tuple[Column, ...]


@dataclass(frozen=True)
class MessageView:
    """Show one line of text."""

    text: str


@dataclass(frozen=True)
class LinesView:
    """Show ``data[lines_key]`` (a list of strings) line by line."""

    lines_key: str


View: TypeAlias = TableView | FieldsView | MessageView | LinesView


@dataclass(frozen=True)
class Result:
    """The verb's final, structured answer: the JSON document, and how a human sees it."""

    data: Mapping[str, JSONValue]
    view: View
    extra_views: tuple[View, ...] = ()


@dataclass(frozen=True)
class LogLines:
    """Lines of untrusted text from a container, streamed as they arrive."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class Progress:
    """How far a long verb is; shown on a terminal only."""

    label: str
    done: int
    total: int


@dataclass(frozen=True)
class Notice:
    """A human-facing remark about what is happening (stderr, not part of the JSON document)."""

    text: str


@dataclass(frozen=True)
class Record:
    """One object of a streaming verb's NDJSON output; a human sees ``text``."""

    data: Mapping[str, JSONValue] = field(default_factory=dict)
    text: str = ""
    #: on a terminal, shown instead of ``text`` and drawn over the previous frame (vram --watch)
    frame: str = ""


Event: TypeAlias = Result | LogLines | Progress | Notice | Record
