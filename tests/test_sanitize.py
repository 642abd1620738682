"""Untrusted text (logs, names, labels) reaches a terminal with no escape sequence, no control but newline and tab."""

from __future__ import annotations

import io
import json

import pytest

from rshell.errors import Denied
from rshell.events import Column, FieldsView, LinesView, LogLines, MessageView, Record, Result, TableView
from rshell.render.human import HumanRenderer, render_view
from rshell.render.jsonout import JsonRenderer
from rshell.render.sanitize import sanitize
from rshell.render.streams import Streams

#: (hostile text, what a terminal may be shown)
HOSTILE = [
    ("\x1b[31mred\x1b[0m", "red"),
    ("\x1b[2J\x1b[Hcleared", "cleared"),
    ("\x1b]0;pwned-title\x07after", "after"),
    ("\x1b]0;pwned-title\x1b\\after", "after"),
    ("\x1b]8;;http://evil/\x07link\x1b]8;;\x07", "link"),
    ("\x1bP+q544e\x1b\\dcs", "dcs"),
    ("\x1b_apc\x1b\\x", "x"),
    ("\x1b^pm\x1b\\x", "x"),
    ("\x1b[?1049h\x1b[?25lalt", "alt"),
    ("\x1b[6n", ""),
    ("\x1b[>c", ""),
    ("\x1b(0charset", "charset"),
    ("\x1bcreset", "reset"),
    ("\x1b7\x1b8save", "save"),
    ("\x9b31mc1-csi", "c1-csi"),
    ("\x9d0;title\x9cc1-osc", "c1-osc"),
    ("\x90dcs\x9cafter", "after"),
    ("\x85nel", "nel"),
    ("bell\x07", "bell"),
    ("back\x08\x08\x08\x08evil", "backevil"),
    ("over\rwrite", "overwrite"),
    ("del\x7f", "del"),
    ("nul\x00byte", "nulbyte"),
    ("vt\x0bff\x0c", "vtff"),
    ("\u202eevil.exe", "evil.exe"),
    ("\u2066iso\u2069", "iso"),
    ("\u200fmark\u200e", "mark"),
    ("trailing-esc\x1b", "trailing-esc"),
    ("\x1b[" + "9" * 100, ""),
    ("keep\ttab\nand newline", "keep\ttab\nand newline"),
    ("héllo 日本 ✓", "héllo 日本 ✓"),
]

FORBIDDEN = {chr(code) for code in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))} | {
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
}


@pytest.mark.parametrize(("text", "shown"), HOSTILE)
def test_sanitize_strips_sequences_and_controls(text: str, shown: str) -> None:
    assert sanitize(text) == shown


@pytest.mark.parametrize("code", range(0x100))
def test_no_c0_or_c1_byte_survives(code: int) -> None:
    assert not set(sanitize(f"a{chr(code)}b")) & FORBIDDEN


COLUMNS = (Column("name", "NAME"), Column("labels", "LABELS"))


@pytest.mark.parametrize(("text", "shown"), [row for row in HOSTILE if "\n" not in row[0]])
def test_table_cells_are_sanitised(text: str, shown: str) -> None:
    output = render_view(TableView("rows", COLUMNS), {"rows": [{"name": text, "labels": [text, "b=c"]}]})
    assert not set(output) & FORBIDDEN
    header, row = output.splitlines()
    assert row[: header.index("LABELS")].rstrip() == shown


def test_a_newline_in_a_name_cannot_forge_a_table_row() -> None:
    data = {"rows": [{"name": "app\nhidden-db  running", "labels": None}]}
    lines = render_view(TableView("rows", COLUMNS), data).splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("app hidden-db  running  ")


def test_fields_lines_and_messages_are_sanitised() -> None:
    hostile = "\x1b]0;t\x07x\x1b[2J\u202e"
    fields = render_view(
        FieldsView((Column("user", "user"), Column("containers", "containers"))),
        {
            "user": hostile,
            "containers": [hostile, hostile],
        },
    )
    lines = render_view(LinesView("help"), {"help": [hostile, hostile]})
    message = render_view(MessageView(hostile), {})
    for output in (fields, lines, message):
        assert not set(output) & FORBIDDEN, output
    assert fields == "user:       x\ncontainers: x, x\n"


def test_human_renderer_sanitises_log_lines_records_notices_and_errors() -> None:
    out, err = io.StringIO(), io.StringIO()
    renderer = HumanRenderer(Streams(out, err))
    renderer.event(LogLines(("\x1b[31mred\x1b[0m", "\x1b]0;title\x07plain\ttab")))
    renderer.event(Record({"x": 1}, "\x9b2Jrecord"))
    renderer.error(Denied("no container '\x1b[2Jx' here"))
    assert out.getvalue() == "red\nplain\ttab\nrecord\n"
    assert err.getvalue() == "rshell: no container 'x' here\n"


def test_json_keeps_the_bytes_but_escaped() -> None:
    out, err = io.StringIO(), io.StringIO()
    renderer = JsonRenderer(Streams(out, err), streaming=False)
    renderer.event(LogLines(("\x1b[31mred\x9b\u202e",)))
    renderer.event(Result({"name": "\x07"}, MessageView("")))
    renderer.finish()
    JsonRenderer(Streams(out, err), streaming=False).error(Denied("bad \x1b"))
    text = out.getvalue() + err.getvalue()
    assert text.isascii()
    assert not set(text) & FORBIDDEN
    assert "\\u001b[31mred\\u009b\\u202e" in out.getvalue()
    assert json.loads(out.getvalue()) == {"name": "\x07", "lines": ["\x1b[31mred\x9b\u202e"]}
    assert json.loads(err.getvalue()) == {"error": {"code": "denied", "message": "bad \x1b"}}
