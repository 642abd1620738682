"""The MCP byte stream: a reader thread frames and checks each line, a writer thread sends every message.

Both are daemon threads that hand items to the event loop (as the call workers do), so a client
that stops reading or never closes its input cannot keep the process from exiting. The SDK's
session gets memory streams: only well-formed messages reach it; refusals are answered here.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

from rshell.mcp.framing import LineSplitter, Oversized, Refusal, classify

#: how long the writer may take to send what is left when the session ends
DRAIN_SECONDS = 2.0
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Channel:
    """The client's byte stream: a blocking read (b"" at its end) and a blocking write of everything."""

    read: Callable[[int], bytes]
    write: Callable[[bytes], None]


class Wire:
    """One client's framed JSON-RPC stream, as the memory streams the SDK's server runs on."""

    def __init__(
        self,
        channel: Channel,
        max_message: int,
        refused: Callable[[Refusal, bool], None],
        pace: Callable[[], float] | None = None,
    ) -> None:
        self.channel = channel
        self.max_message = max_message
        self.refused = refused
        #: seconds to wait before the next message is taken (the broker's per-uid rate); None: no pacing
        self.pace = pace
        self.to_sdk, self.from_client = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        self.outgoing, self.to_client = anyio.create_memory_object_stream[SessionMessage](0)
        self.written = threading.Event()
        self.reading = True

    @contextlib.asynccontextmanager
    async def running(
        self,
    ) -> AsyncIterator[tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[Any]]]:
        token = anyio.lowlevel.current_token()
        threading.Thread(target=self._read, args=(token,), name="mcp-read", daemon=True).start()
        threading.Thread(target=self._write, args=(token,), name="mcp-write", daemon=True).start()
        try:
            yield self.from_client, self.outgoing.clone()
        finally:
            self.outgoing.close()
            self.to_sdk.close()
            with anyio.CancelScope(shield=True), anyio.move_on_after(DRAIN_SECONDS):
                while not self.written.is_set():
                    await anyio.sleep(0.01)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """A notification of the server's own (not tied to a request); dropped once the stream is closed."""
        message = types.JSONRPCNotification(jsonrpc="2.0", method=method, params=params)
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self.outgoing.send(SessionMessage(message))

    def stop_reading(self) -> None:
        """Forward nothing more the client sends (what was read before is still answered)."""
        self.reading = False

    def end_input(self) -> None:
        """Read no more requests: the SDK sees the end of its input (and winds down its calls)."""
        self.to_sdk.close()

    async def _route(self, item: SessionMessage | Refusal) -> None:
        if not self.reading:
            return
        if isinstance(item, Refusal):
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await self.outgoing.send(item.response())
            return
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self.to_sdk.send(item)

    def _read(self, token: anyio.lowlevel.EventLoopToken) -> None:
        splitter = LineSplitter(self.max_message)
        try:
            while chunk := self.channel.read(CHUNK):
                for line in splitter.feed(chunk):
                    if self.pace is not None and (delay := self.pace()):
                        time.sleep(delay)  # the client's further bytes wait in the socket meanwhile
                    item = self._item(line)
                    if item is not None:
                        anyio.from_thread.run(self._route, item, token=token)
        except (OSError, ValueError):  # the connection failed or was closed under the read
            pass
        except RuntimeError:  # the event loop is gone: the session ended
            return
        with contextlib.suppress(RuntimeError):
            anyio.from_thread.run_sync(self._input_ended, token=token)

    def _item(self, line: bytes | Oversized) -> SessionMessage | Refusal | None:
        if isinstance(line, Oversized):
            refusal = line.refusal()
            self.refused(refusal, True)
            return refusal
        item = classify(line)
        if isinstance(item, Refusal):
            self.refused(item, False)
        return item

    def _input_ended(self) -> None:
        self.to_sdk.close()

    def _write(self, token: anyio.lowlevel.EventLoopToken) -> None:
        try:
            while True:
                try:
                    message = anyio.from_thread.run(self.to_client.receive, token=token)
                except (anyio.EndOfStream, anyio.ClosedResourceError, RuntimeError):
                    return
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True).encode("utf-8")
                try:
                    self.channel.write(data + b"\n")
                except (OSError, ValueError):  # the client went away: keep draining so no sender blocks
                    with contextlib.suppress(RuntimeError):
                        anyio.from_thread.run_sync(self._input_ended, token=token)
        finally:
            self.written.set()
