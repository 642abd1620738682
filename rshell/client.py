"""The thin client: sends each line to rshelld and renders what comes back. No docker-py, no policy."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rshell.errors import ExitStatus, Interrupted, RshellError, VerbFailed
from rshell.protocol import MAX_REPLY_BYTES, LineReader, ProtocolError, encode
from rshell.render.streams import Streams
from rshell.runner import Renderer, renderers_for
from rshell.wire import WireError, event_from_wire

if TYPE_CHECKING:
    from prompt_toolkit.completion import CompleteEvent, Completer, Completion
    from prompt_toolkit.document import Document

CONNECT_TIMEOUT = 5.0


class RemoteError(RshellError):
    """An error the broker reported, with the exit status it decided."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = ExitStatus(status)


class BrokerBackend:
    """Runs lines in rshelld over its unix socket; the broker decides who the caller is."""

    def __init__(self, socket_path: str, mode: str, streams: Streams) -> None:
        self.socket_path = socket_path
        self.mode = mode
        self.streams = streams

    def request(self, message: dict[str, Any]) -> tuple[socket.socket, LineReader]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(self.socket_path)
            sock.settimeout(None)
            sock.sendall(encode(message))
        except OSError as error:
            sock.close()
            raise VerbFailed(
                f"cannot reach the rshell broker at {self.socket_path}: {error.strerror or error}"
            ) from None
        return sock, LineReader(sock, MAX_REPLY_BYTES)

    def run(self, line: str) -> int:
        make = renderers_for(self.streams)
        wants_json = "--json" in line.split()
        renderer: Renderer | None = None
        try:
            sock, reader = self.request({"op": "run", "line": line, "mode": self.mode})
        except RshellError as error:
            make(wants_json, False).error(error)
            return error.status
        with sock:
            try:
                while True:
                    message = _next_reply(reader)
                    if message.get("op") == "begin":
                        renderer = make(wants_json, bool(message.get("streaming")))
                    elif message.get("op") == "end":
                        return _finish(renderer or make(wants_json, False), message)
                    else:
                        (renderer or make(wants_json, False)).event(event_from_wire(message))
            except KeyboardInterrupt:
                with contextlib.suppress(OSError):
                    sock.sendall(encode({"op": "cancel"}))
                failure: RshellError = Interrupted("interrupted")
            except (ProtocolError, WireError, OSError) as error:
                failure = VerbFailed(f"the broker connection failed: {error}")
        (renderer or make(wants_json, False)).error(failure)
        return failure.status

    def status(self) -> dict[str, Any]:
        sock, reader = self.request({"op": "status"})
        with sock:
            message = reader.read()
        if message is None or message.get("op") != "status":
            raise VerbFailed("the broker did not answer the status request")
        return message

    def complete(self, text: str) -> list[tuple[str, int]]:
        try:
            sock, reader = self.request({"op": "complete", "text": text})
            with sock:
                message = reader.read()
        except (RshellError, ProtocolError, OSError):
            return []
        items = (message or {}).get("completions") or []
        return [(str(item[0]), int(item[1])) for item in items if isinstance(item, list) and len(item) == 2]

    def completer(self) -> Completer:
        from prompt_toolkit.completion import Completer, Completion  # noqa: PLC0415

        backend = self

        class BrokerCompleter(Completer):
            def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
                for text, start in backend.complete(document.text_before_cursor):
                    yield Completion(text, start_position=start)

        return BrokerCompleter()

    def toolbar(self) -> str:
        try:
            status = self.status()
        except RshellError:
            return f" broker {self.socket_path} unreachable"
        return f" {status.get('user')} · role {status.get('role') or 'none'} · engine {status.get('engine')} (broker)"


def _next_reply(reader: LineReader) -> dict[str, Any]:
    message = reader.read()
    if message is None:
        raise ProtocolError("the broker closed the connection")
    return message


def _finish(renderer: Renderer, message: dict[str, Any]) -> int:
    error = message.get("error")
    status = message.get("status")
    if not isinstance(status, int) or status not in {int(code) for code in ExitStatus}:
        renderer.error(VerbFailed("the broker sent an invalid exit status"))
        return ExitStatus.FAILED
    if isinstance(error, dict):
        renderer.error(RemoteError(status, str(error.get("message", "failed"))))
    else:
        renderer.finish()
    return status
