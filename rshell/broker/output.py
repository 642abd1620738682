"""Text streams that send what a renderer writes to the client as output frames (rshell.frames)."""

from __future__ import annotations

import io
import socket
import threading

from rshell.frames import STDERR, STDOUT, frame
from rshell.protocol import OUTPUT_CHUNK


class ClientOutput(io.TextIOBase):
    """A write-only text stream for one of the client's file descriptors (1 or 2)."""

    def __init__(self, conn: socket.socket, fd: int, lock: threading.Lock) -> None:
        super().__init__()
        self.conn = conn
        self.fd = fd
        self.lock = lock

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        for start in range(0, len(text), OUTPUT_CHUNK):
            payload = text[start : start + OUTPUT_CHUNK].encode("utf-8", "replace")
            message = frame(STDOUT if self.fd == 1 else STDERR, payload)
            with self.lock:
                self.conn.sendall(message)
        return len(text)

    def flush(self) -> None:
        return None
