"""The client's start-up path writes its request and reads its replies without json: both must agree
with what the json module and the broker do, whatever the text and however the bytes arrive."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from rshell.frames import END, JSON_LINE, STDERR, STDOUT, FrameReader, ProtocolError, frame, json_string, run_request
from rshell.protocol import decode

TEXTS = [
    "ps --json",
    'logs "my app" --tail 5',
    'back\\slash and "quotes"',
    "tab\tnewline\nNUL\x00 DEL\x7f ESC\x1b C1\x9b",
    "é 漢字 emoji 😀 bidi \u202e",
    "invalid UTF-8 kept as surrogates \udcff\udc80",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_hand_written_json_string_reads_back_as_the_same_text(text: str) -> None:
    written = json_string(text)

    assert written.isascii()
    assert json.loads(written) == text


@pytest.mark.parametrize("text", TEXTS)
def test_the_run_request_is_one_line_the_broker_decodes(text: str) -> None:
    message = decode(run_request(text, "batch", (True, False)))

    assert message == {"v": 1, "op": "run", "line": text, "mode": "batch", "tty": [True, False]}


def reader_over(data: bytes, piece: int) -> FrameReader:
    """A reader whose socket receives ``data`` in pieces of ``piece`` bytes, from another thread."""
    ours, theirs = socket.socketpair()

    def feed() -> None:
        with theirs:
            for start in range(0, len(data), piece):
                theirs.sendall(data[start : start + piece])

    threading.Thread(target=feed, daemon=True).start()
    return FrameReader(ours)


@pytest.mark.parametrize("piece", [1, 2, 5, 7, 4096])
def test_frames_and_a_json_line_come_back_whole_however_they_arrive(piece: int) -> None:
    text = "table\n漢字 😀\n".encode()
    wire = frame(STDOUT, text) + frame(STDERR, b"") + frame(STDOUT, b"x" * 70_000) + b'{"v":1,"op":"end"}\n'
    reader = reader_over(wire + frame(END, b"0"), piece)

    assert reader.next() == (STDOUT, text)
    assert reader.next() == (STDERR, b"")
    assert reader.next() == (STDOUT, b"x" * 70_000)
    assert reader.next() == (JSON_LINE, b'{"v":1,"op":"end"}')
    assert reader.next() == (END, b"0")


def test_a_truncated_frame_or_a_huge_one_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="closed"):
        reader_over(frame(STDOUT, b"complete")[:-3], 4096).next()
    with pytest.raises(ProtocolError, match="too large"):
        reader_over(STDOUT + (2**31).to_bytes(4, "big"), 4096).next()
