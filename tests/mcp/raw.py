"""A raw JSON-RPC peer for ``rshell -c mcp``: bytes in, parsed lines out, no SDK in between."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from tests.support.shell import RSHELL

PROTOCOL = "2025-11-25"


def local_command(policy: Path) -> list[str]:
    return [*RSHELL, "--policy", str(policy), "-c", "mcp"]


class RawPeer:
    """One server process; ``send`` writes a line, ``next`` returns the next message it wrote."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            self.messages.put(json.loads(line))
        self.messages.put(None)

    def send(self, message: dict[str, Any] | bytes) -> None:
        assert self.process.stdin is not None
        data = message if isinstance(message, bytes) else json.dumps(message).encode() + b"\n"
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def next(self, timeout: float = 20.0) -> dict[str, Any] | None:
        """The next message (None once the server closed its output)."""
        return self.messages.get(timeout=timeout)

    def answer(self, request_id: object, timeout: float = 30.0) -> dict[str, Any]:
        """The response to one request id, skipping notifications and other answers."""
        return self.wait_for(lambda message: message.get("id") == request_id and "method" not in message, timeout)

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            message = self.next(timeout=max(0.1, deadline - time.monotonic()))
            if message is None:
                raise AssertionError(f"the server closed its output; it sent {seen}")
            if match(message):
                return message
            seen.append(message)
        raise AssertionError(f"no matching message; the server sent {seen}")

    def call(self, request_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, **({"params": params} if params else {})})
        return self.answer(request_id)

    def initialize(self) -> dict[str, Any]:
        params = {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}
        answer = self.call(0, "initialize", params)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer

    def close_input(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()


@contextmanager
def raw_server(command: Sequence[str], stderr: IO[bytes] | int = subprocess.DEVNULL) -> Iterator[RawPeer]:
    process = subprocess.Popen(list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd="/")
    try:
        yield RawPeer(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def python() -> str:
    return sys.executable
