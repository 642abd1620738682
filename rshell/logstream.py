"""A container's log stream from the engine, read in large blocks and decoded here.

docker-py's ``logs(stream=True)`` reads every frame header and every payload separately, through
urllib3 and http.client, one HTTP chunk at a time (the engine sends one chunk per line), which
caps throughput far below the docker CLI's; it also hides the socket, so a followed stream on a
quiet container cannot be ended when the caller goes away. This opens the same
``GET /containers/{id}/logs`` request through docker-py's client, keeps the socket so a cancel can
shut it down, and decodes the body from blocks of up to 64 KiB: HTTP chunked transfer coding,
then the engine's frames (8-byte header: stream, 3 zero bytes, big-endian payload size).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

from rshell.verb import CancelSignal

BLOCK_BYTES = 64 * 1024
HEADER_BYTES = 8


def open_logs(api: Any, container_id: str, query: dict[str, Any], *, tty: bool, cancel: object) -> Iterator[bytes]:
    """The container's output as byte blocks (stdout and stderr merged, in order)."""
    response = api._get(api._url("/containers/{0}/logs", container_id), params=query, stream=True)
    api._raise_for_status(response)
    if isinstance(cancel, CancelSignal):
        raw_socket = api._get_raw_response_socket(response)
        raw_socket = getattr(raw_socket, "_sock", raw_socket)  # over unix and plain http: a SocketIO around it
        cancel.on_cancel(lambda: raw_socket.shutdown(socket.SHUT_RDWR))
    blocks = _body_blocks(response)
    return blocks if tty else demultiplex(blocks)


def _body_blocks(response: Any) -> Iterator[bytes]:
    """The response body as it arrives (``read1``: whatever is there, up to BLOCK_BYTES).

    Read under http.client (its buffered socket file, which holds the body once the headers are
    parsed) and de-chunked here; if that file is not where docker-py and http.client keep it, fall
    back to urllib3's own reads, which are correct but slow.
    """
    message = getattr(response.raw, "_fp", None)
    body = getattr(message, "fp", None)
    try:
        if body is None or not hasattr(body, "read1"):
            yield from iter(lambda: response.raw.read1(BLOCK_BYTES), b"")
        elif getattr(message, "chunked", False):
            yield from dechunk(iter(lambda: body.read1(BLOCK_BYTES), b""))
        else:
            yield from iter(lambda: body.read1(BLOCK_BYTES), b"")
    finally:
        response.close()


def dechunk(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The data of an HTTP/1.1 chunked body (size line, data, CRLF; a zero size ends it)."""
    buffer = bytearray()
    remaining = skip = 0
    for block in blocks:
        buffer += block
        data, position = [], 0
        while position < len(buffer):
            if skip:
                step = min(skip, len(buffer) - position)
                position, skip = position + step, skip - step
            elif remaining:
                step = min(remaining, len(buffer) - position)
                data.append(bytes(buffer[position : position + step]))
                position, remaining = position + step, remaining - step
                skip = 0 if remaining else 2
            else:
                end_of_line = buffer.find(b"\r\n", position)
                if end_of_line < 0:
                    break
                remaining = int(bytes(buffer[position:end_of_line]).split(b";")[0], 16)
                position = end_of_line + 2
                if remaining == 0:
                    if data:
                        yield b"".join(data)
                    return
        del buffer[:position]
        if data:
            yield b"".join(data)


def demultiplex(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The payloads of the engine's frames, joined per block received."""
    buffer = bytearray()
    for block in blocks:
        buffer += block
        payloads, position, available = [], 0, len(buffer)
        while available - position >= HEADER_BYTES:
            size = int.from_bytes(buffer[position + 4 : position + HEADER_BYTES], "big")
            end = position + HEADER_BYTES + size
            if end > available:
                break
            payloads.append(bytes(buffer[position + HEADER_BYTES : end]))
            position = end
        del buffer[:position]
        if payloads:
            yield b"".join(payloads)
