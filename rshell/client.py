"""The thin client: sends each line to rshelld and copies back what it renders. Standard library only:
this is the start-up path of every ``ssh host -- verb``, so it imports socket, json and little else."""

from __future__ import annotations

import _socket
import os
import sys

from rshell.defaults import lane_path
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

CONNECT_TIMEOUT = 5
#: SO_SNDTIMEO's struct timeval (two native longs): CONNECT_TIMEOUT seconds, and none
_CONNECT_TIMEVAL = CONNECT_TIMEOUT.to_bytes(8, sys.byteorder) + bytes(8)
_NO_TIMEVAL = bytes(16)
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
    """An error the broker reported, with the exit status and the code it chose."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.remote_code = code

    @property
    def code(self) -> str:
        return self.remote_code or super().code


def ended_with_error(message: dict[str, Any] | None) -> RemoteError | None:
    """The broker's ``{"op": "end", "status": N, "error": {...}}`` as an error, None for anything else."""
    if message is None or message.get("op") != "end" or message.get("status") not in _STATUSES:
        return None
    problem = message.get("error")
    problem = problem if isinstance(problem, dict) else {}
    status = int(message["status"]) or ExitStatus.FAILED  # an end that says 0 but carries an error is a failure
    return RemoteError(
        status, str(problem.get("message") or "the broker ended the session"), str(problem.get("code", ""))
    )


#: how every ``end`` line the broker writes starts (rshell.protocol.encode); MCP's JSON-RPC lines
#: start with ``{"jsonrpc"`` or another key, never ``"v"``
_END_LINE = b'{"v":1,"op":"end"'


class McpRelay:
    """Bytes both ways between this process's stdin/stdout and a broker's MCP session.

    MCP on stdio is one JSON-RPC message per line, so the relay passes whole lines; a line that is
    the broker's own ``end`` message (it ended the session with an error) is not MCP traffic: it
    becomes the exit status and one line on stderr. The broker closing the session while this
    side's stdin is still open is a failure too; only the client closing first ends it with 0.
    """

    def __init__(self, sock: Connection) -> None:
        self.sock = sock
        self.upstream_done = False
        #: the start of the current line while it may still be the broker's end line
        self.head = b""
        #: the current line is MCP traffic: the rest of it passes straight through
        self.passing = False

    def upstream(self) -> None:
        import os  # noqa: PLC0415

        try:
            while data := os.read(0, 65536):
                self.sock.sendall(data)
            self.upstream_done = True
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            return

    def run(self, first: bytes) -> int:
        """Copy until the broker ends; ExitStatus.OK only when it ended after this side's input did."""
        import sys  # noqa: PLC0415
        import threading  # noqa: PLC0415

        threading.Thread(target=self.upstream, daemon=True).start()
        out, data = sys.stdout.buffer, first
        while True:
            error = self.copy(data, out)
            if error is not None:
                raise error
            try:
                data = self.sock.recv(65536)
            except OSError as failure:
                raise VerbFailed(f"the broker connection failed: {failure.strerror or failure}") from None
            if not data:
                break
        if self.head.startswith(_END_LINE):  # an end line cut short by the close
            raise _end_error(self.head)
        out.write(self.head)
        out.flush()
        if not self.upstream_done:
            raise VerbFailed("the broker ended the MCP session before the client did")
        return ExitStatus.OK

    def copy(self, data: bytes, out: Any) -> RemoteError | None:
        """Pass ``data`` on line by line; the broker's error when a line is its end line."""
        while data:
            if self.passing:
                newline = data.find(b"\n") + 1
                out.write(data[:newline] if newline else data)
                data, self.passing = (data[newline:], False) if newline else (b"", True)
                continue
            self.head, data = self.head + data, b""
            prefix = self.head[: len(_END_LINE)]
            if not _END_LINE.startswith(prefix) or b"\n" in prefix:
                data, self.head, self.passing = self.head, b"", True  # MCP traffic
                continue
            newline = self.head.find(b"\n")
            if newline < 0:
                break  # maybe the broker's end line: wait for the rest of it
            line, data, self.head = self.head[:newline], self.head[newline + 1 :], b""
            if line.startswith(_END_LINE):
                return _end_error(line)
            out.write(line + b"\n")
        out.flush()
        return None


def _end_error(line: bytes) -> RemoteError:
    from rshell.protocol import decode  # noqa: PLC0415 - json only on this error path

    try:
        error = ended_with_error(decode(line + b"\n"))
    except ProtocolError:
        error = None
    return error or RemoteError(ExitStatus.FAILED, "the broker ended the MCP session", "failed")


class BrokerBackend:
    """Runs lines in rshelld over its unix socket; the broker decides who the caller is."""

    def __init__(self, socket_path: str, mode: str, streams: Streams) -> None:
        self.socket_path = socket_path
        self.mode = mode
        self.streams = streams

    def _connect(self, request: bytes) -> Connection:
        """The caller's own lane of the broker first (rshell.broker.lanes: its connections queue apart
        from other users'), else the shared socket. A blocking connect with a send timeout: while a
        queue of connections is full it waits for room, up to CONNECT_TIMEOUT, where a non-blocking
        one (``settimeout``) fails at once with EAGAIN (unix_stream_connect sleeps up to the socket's
        SO_SNDTIMEO for a full backlog, net/unix/af_unix.c)."""
        sock = self._connect_to(lane_path(self.socket_path, os.getuid()), request)
        if sock is None:
            sock = self._connect_to(self.socket_path, request, shared=True)
        assert sock is not None  # the shared socket's failure is raised
        return sock

    def _connect_to(self, path: str, request: bytes, *, shared: bool = False) -> Connection | None:
        """A connection to ``path`` with ``request`` sent; a lane that cannot be reached is None (no
        broker made it, a stale one), the shared socket's failure one line."""
        sock = Connection(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDTIMEO, _CONNECT_TIMEVAL)
            sock.connect(path)
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDTIMEO, _NO_TIMEVAL)
            sock.sendall(request)
        except OSError as error:
            sock.close()
            if not shared:  # no lane, a stale one, a path too long for one: the shared socket decides
                return None
            reason = error.strerror or error
            raise VerbFailed(f"cannot reach the rshell broker at {path}: {reason}") from None
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
        from rshell.protocol import MAX_REPLY_BYTES, decode  # noqa: PLC0415 - json only on this path

        error = ended_with_error(decode(payload + b"\n", MAX_REPLY_BYTES))
        if error is None:
            raise ProtocolError("unexpected answer")
        return self._fail(line, error)

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
            refusal = ended_with_error(answer)
            if refusal is not None:
                return self._fail("mcp", refusal)
            if answer is None or answer.get("op") != "mcp":
                return self._fail("mcp", VerbFailed("the broker did not start an MCP session"))
            try:
                return McpRelay(sock).run(reader.rest())
            except RshellError as error:
                return self._fail("mcp", error)

    def status(self) -> dict[str, Any]:
        """The broker's version, policy and view of the caller; VerbFailed when it does not answer."""
        return self.ask({"op": "status"}, "status")

    def ask(self, message: dict[str, Any], op: str) -> dict[str, Any]:
        """One request and its one answer of kind ``op``; the broker's refusal as a RemoteError (with its
        status and code), any other answer or none as VerbFailed."""
        sock, reader = self.request(message)
        with sock:
            sock.settimeout(ANSWER_TIMEOUT)
            try:
                answer = reader.read()
            except (ProtocolError, OSError) as error:
                raise VerbFailed(f"the broker at {self.socket_path} did not answer: {error}") from None
        refusal = ended_with_error(answer)
        if refusal is not None:
            raise refusal
        if answer is None or answer.get("op") != op:
            raise VerbFailed(f"the broker did not answer the {op} request")
        return answer

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
