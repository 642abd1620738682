"""The line splitter in front of the SDK: lines across reads, and a line past the cap skipped, not held."""

from __future__ import annotations

from rshell.mcp.framing import LineSplitter, Oversized

#: (the reads as they arrive, what the splitter hands on), with a cap of 8 bytes
CASES: list[tuple[list[bytes], list[bytes | Oversized]]] = [
    ([b"ab\ncd\n"], [b"ab", b"cd"]),
    ([b"a", b"b", b"\n"], [b"ab"]),
    ([b"12345678\n"], [b"12345678"]),
    ([b"123456789\nok\n"], [Oversized(8), b"ok"]),
    ([b"12345", b"6789", b"0" * 100, b"\nnext\n"], [Oversized(8), b"next"]),
    ([b"\n\n"], [b"", b""]),
    ([b"x" * 20, b"y" * 20], [Oversized(8)]),
]


def test_lines_and_over_cap_lines() -> None:
    for reads, expected in CASES:
        splitter = LineSplitter(8)
        assert [line for chunk in reads for line in splitter.feed(chunk)] == expected, reads


def test_an_endless_line_keeps_nothing() -> None:
    splitter = LineSplitter(1024)
    for _ in range(1000):
        list(splitter.feed(b"z" * 65536))
    assert len(splitter.pending) == 0
    assert list(splitter.feed(b"\n{}\n")) == [b"{}"]
