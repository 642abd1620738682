"""The thin client: sends each line to rshelld and copies back what it renders. Standard library only:
this is the start-up path of every ``ssh host -- verb``, so it imports socket, json and little else."""

from __future__ import annotations

import _socket

from rshell.errors import ExitStatus, Interrupted, RshellError, VerbFailed
from rshell.frames import CANCEL, END, JSON_LINE, STDERR, STDOUT, FrameReader, ProtocolError, run_request
from rshell.render.streams import Streams

#: typing is not imported on the client's start-up path; mypy treats this name as True
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from prompt_toolkit.completion import CompleteEvent, Completer, Completion
    from prompt_toolkit.document import Document

    from rshell.protocol import LineReader

CONNECT_TIMEOUT = 5.0
#: how long a status or completion answer may take: a wedged broker must not hang the toolbar or Tab
ANSWER_TIMEOUT = 5.0
_STATUSES = ExitStatus.ALL


class Connection(_socket.socket):
    """A unix stream socket from the C module: ``socket.py`` (enum conversions, selectors) costs
    start-up time on every ssh command and is not needed for one request and its replies."""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_quietly(self, data: bytes) -> None:
        try:
            self.sendall(data)
        except OSError:
            return


class RemoteError(RshellError):
    """An error the broker reported, with the exit status it chose."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def relay(sock: Connection, first: bytes) -> int:
    """Copy this process's stdin to the socket (in a thread) and the socket to stdout, until the broker ends."""
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import threading  # noqa: PLC0415

    def upstream() -> None:
        try:
            while data := os.read(0, 65536):
                sock.sendall(data)
            sock.shutdown(_socket.SHUT_WR)
        except OSError:
            return

    threading.Thread(target=upstream, daemon=True).start()
    out = sys.stdout.buffer
    data = first
    while True:
        if data:
            out.write(data)
            out.flush()
        try:
            data = sock.recv(65536)
        except OSError:
            break
        if not data:
            break
    return ExitStatus.OK


class BrokerBackend:
    """Runs lines in rshelld over its unix socket; the broker decides who the caller is."""

    def __init__(self, socket_path: str, mode: str, streams: Streams) -> None:
        self.socket_path = socket_path
        self.mode = mode
        self.streams = streams

    def _connect(self, request: bytes) -> Connection:
        sock = Connection(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(self.socket_path)
            sock.settimeout(None)
            sock.sendall(request)
        except OSError as error:
            sock.close()
            reason = error.strerror or error
            raise VerbFailed(f"cannot reach the rshell broker at {self.socket_path}: {reason}") from None
        return sock

    def request(self, message: dict[str, Any]) -> tuple[Connection, LineReader]:
        """A JSON request and a reader of JSON replies (status, completion, mcp: not the start-up path)."""
        from rshell.protocol import MAX_REPLY_BYTES, LineReader, encode  # noqa: PLC0415

        return (sock := self._connect(encode(message))), LineReader(sock, MAX_REPLY_BYTES)

    def run(self, line: str) -> int:
        tty = (self.streams.stdout_is_tty, self.streams.stderr_is_tty)
        try:
            sock = self._connect(run_request(line, self.mode, tty))
        except RshellError as error:
            return self._fail(line, error)
        with sock:
            try:
                return self._copy_output(FrameReader(sock), line)
            except KeyboardInterrupt:
                sock.send_quietly(CANCEL)  # the broker may be gone already
                return self._fail(line, Interrupted("interrupted"))
            except (ProtocolError, OSError) as error:
                return self._fail(line, VerbFailed(f"the broker connection failed: {error}"))

    def _copy_output(self, reader: FrameReader, line: str) -> int:
        outputs = {STDOUT: self.streams.stdout, STDERR: self.streams.stderr}
        while True:
            kind, payload = reader.next()
            stream = outputs.get(kind)
            if stream is not None:
                stream.write(payload.decode("utf-8", "replace"))
                stream.flush()
            elif kind == END and payload.isdigit() and int(payload) in _STATUSES:
                return int(payload)
            elif kind == JSON_LINE:
                return self._refused(payload, line)
            else:
                raise ProtocolError(f"unexpected frame {kind!r}")

    def _refused(self, payload: bytes, line: str) -> int:
        """The broker refused the request before running it, in a JSON line."""
        from rshell.protocol import decode  # noqa: PLC0415 - json only on this path

        message = decode(payload + b"\n")
        status, problem = message.get("status"), message.get("error") or {}
        if message.get("op") != "end" or status not in _STATUSES:
            raise ProtocolError("unexpected answer")
        return self._fail(line, RemoteError(int(status), str(problem.get("message", "refused"))))

    def _fail(self, line: str, error: RshellError) -> int:
        """Report an error the broker could not: in JSON when the line asked for JSON."""
        self.streams.stdout.flush()
        if "--json" in line.split():
            import json  # noqa: PLC0415 - only on this error path

            document = {"error": {"code": error.code, "message": error.message}}
            self.streams.stderr.write(json.dumps(document, ensure_ascii=True) + "\n")
        else:
            self.streams.stderr.write(f"rshell: {error.message}\n")
        self.streams.stderr.flush()
        return error.status

    def mcp(self) -> int:
        """An MCP session served by the broker: after its answer, copy bytes both ways until either side ends."""
        try:
            sock, reader = self.request({"op": "mcp"})
        except RshellError as error:
            return self._fail("mcp", error)
        with sock:
            try:
                answer = reader.read()
            except (ProtocolError, OSError) as error:
                return self._fail("mcp", VerbFailed(f"the broker connection failed: {error}"))
            if answer is not None and answer.get("op") == "end" and answer.get("status") in _STATUSES:
                problem = answer.get("error") or {}
                return self._fail("mcp", RemoteError(int(answer["status"]), str(problem.get("message", "refused"))))
            if answer is None or answer.get("op") != "mcp":
                return self._fail("mcp", VerbFailed("the broker did not start an MCP session"))
            return relay(sock, reader.rest())

    def status(self) -> dict[str, Any]:
        """The broker's version, policy and view of the caller; VerbFailed when it does not answer."""
        sock, reader = self.request({"op": "status"})
        with sock:
            sock.settimeout(ANSWER_TIMEOUT)
            try:
                message = reader.read()
            except (ProtocolError, OSError) as error:
                raise VerbFailed(f"the broker at {self.socket_path} did not answer: {error}") from None
        if message is None or message.get("op") != "status":
            raise VerbFailed("the broker did not answer the status request")
        return message

    def complete(self, text: str) -> list[tuple[str, int]]:
        try:
            sock, reader = self.request({"op": "complete", "text": text})
            with sock:
                sock.settimeout(ANSWER_TIMEOUT)
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
        except (RshellError, ProtocolError, OSError):
            return f" broker {self.socket_path} unreachable"
        return f" {status.get('user')} · role {status.get('role') or 'none'} · engine {status.get('engine')} (broker)"


__all__ = ["BrokerBackend"]
