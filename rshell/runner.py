"""Run one line of text to an exit status, rendering as it goes: shared by -c, batch and the REPL."""

from __future__ import annotations

from typing import BinaryIO

from rshell.errors import ExitStatus, Interrupted, RshellError, UsageError
from rshell.executor import Session, execute
from rshell.lexer import MAX_LINE_BYTES, Request, split_line
from rshell.render.human import HumanRenderer
from rshell.render.jsonout import JsonRenderer
from rshell.render.streams import Streams


def run_line(session: Session, line: str, streams: Streams) -> int:
    """Lex, execute and render one line; the exit status is returned, never raised."""
    try:
        request = split_line(line)
    except RshellError as error:
        _renderer(streams, wants_json="--json" in line.split(), streaming=False).error(error)
        return error.status
    if request is None:
        return ExitStatus.OK
    return run_request(session, request, streams)


def run_request(session: Session, request: Request, streams: Streams) -> int:
    verb = session.registry.get(request.verb)
    streaming = False
    if verb is not None and request.wants_json:
        try:
            from rshell.binding import bind  # noqa: PLC0415 - tiny, already imported by the executor

            streaming = verb.streams(bind(verb.name, verb.spec, request.argv))
        except RshellError:
            streaming = False
    renderer = _renderer(streams, wants_json=request.wants_json, streaming=streaming)
    try:
        for event in execute(session, request):
            renderer.event(event)
    except KeyboardInterrupt:
        error: RshellError = Interrupted("interrupted")
        renderer.error(error)
        return error.status
    except RshellError as failure:
        renderer.error(failure)
        return failure.status
    renderer.finish()
    return ExitStatus.OK


def _renderer(streams: Streams, *, wants_json: bool, streaming: bool) -> HumanRenderer | JsonRenderer:
    return JsonRenderer(streams, streaming=streaming) if wants_json else HumanRenderer(streams)


def run_batch(session: Session, stdin: BinaryIO, streams: Streams, *, keep_going: bool) -> int:
    """Run each line of a non-terminal stdin; stop at the first failure unless told to keep going."""
    last_failure = ExitStatus.OK
    while True:
        raw = stdin.readline(MAX_LINE_BYTES + 2)
        if not raw:
            return last_failure
        status, line = _decode(raw, stdin, streams)
        if line is not None:
            if line.split() in (["exit"], ["quit"]):
                return last_failure
            status = run_line(session, line, streams)
        if status != ExitStatus.OK:
            last_failure = ExitStatus(status)
            if not keep_going:
                return status


def _decode(raw: bytes, stdin: BinaryIO, streams: Streams) -> tuple[int, str | None]:
    """A line of stdin as text, or the usage status after telling the user why it was refused."""
    error: RshellError | None = None
    if not raw.endswith(b"\n") and len(raw) > MAX_LINE_BYTES:
        while (rest := stdin.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
        error = UsageError(f"the line is longer than {MAX_LINE_BYTES} bytes")
    else:
        try:
            return ExitStatus.OK, raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
        except UnicodeDecodeError:
            error = UsageError("the line is not valid UTF-8")
    HumanRenderer(streams).error(error)
    return error.status, None
