"""The log stream decoder: HTTP chunked coding and the engine's frames, however the bytes arrive."""

from __future__ import annotations

import pytest

from rshell.logstream import dechunk, demultiplex


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def frames(*payloads: tuple[int, bytes]) -> bytes:
    return b"".join(bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data for stream, data in payloads)


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[index : index + size] for index in range(0, len(data), size)]


BODY = frames((1, b"first line\n"), (2, b"an error\n"), (1, b""), (1, b"x" * 300 + b"\n"), (1, b"last\n"))
EXPECTED = b"first line\nan error\n" + b"x" * 300 + b"\nlast\n"


@pytest.mark.parametrize("block", [1, 2, 3, 7, 8, 9, 64, 4096])
def test_any_split_of_the_bytes_gives_the_same_output(block: int) -> None:
    wire = chunked(*split_every(BODY, 13))

    assert b"".join(demultiplex(dechunk(iter(split_every(wire, block))))) == EXPECTED


def test_chunk_extensions_are_ignored_and_the_zero_chunk_ends_the_body() -> None:
    wire = b"5;name=value\r\nhello\r\n0\r\n\r\nnot part of the body"

    assert b"".join(dechunk(iter([wire]))) == b"hello"


def test_a_frame_cut_at_the_end_is_held_back_not_emitted() -> None:
    whole = frames((1, b"complete\n"))
    assert b"".join(demultiplex(iter([whole + whole[:10]]))) == b"complete\n"
