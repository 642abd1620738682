"""Run one line of text to an exit status, rendering as it goes: shared by -c, batch, the REPL and the broker."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import BinaryIO, Protocol

from rshell.errors import ExitStatus, Interrupted, RshellError
from rshell.events import Event
from rshell.executor import Session, audit_refused_line, execute
from rshell.lexer import MAX_LINE_BYTES, Request, split_line
from rshell.render.human import HumanRenderer
from rshell.render.jsonout import JsonRenderer
from rshell.render.streams import Streams


class Renderer(Protocol):
    def event(self, event: Event) -> None: ...
    def finish(self) -> None: ...
    def error(self, error: RshellError) -> None: ...


#: makes the renderer for one line: (wants_json, streaming) -> Renderer
RendererFactory = Callable[[bool, bool], Renderer]


def renderers_for(streams: Streams) -> RendererFactory:
    def make(wants_json: bool, streaming: bool) -> Renderer:
        return JsonRenderer(streams, streaming=streaming) if wants_json else HumanRenderer(streams)

    return make


def run_line(session: Session, line: str, streams: Streams) -> int:
    """Lex, execute and render one line on these streams; the exit status is returned, never raised."""
    return run_line_with(session, line, renderers_for(streams))


def run_line_with(session: Session, line: str, make_renderer: RendererFactory) -> int:
    try:
        request = split_line(line)
    except RshellError as error:
        audit_refused_line(session, line, error)
        make_renderer("--json" in line.split(), False).error(error)
        return error.status
    if request is None:
        return ExitStatus.OK
    return run_request(session, request, make_renderer)


def run_request(session: Session, request: Request, make_renderer: RendererFactory) -> int:
    renderer = make_renderer(request.wants_json, request.wants_json and _streams(session, request))
    events = execute(session, request)
    try:
        for event in events:
            renderer.event(event)
    except KeyboardInterrupt:
        error = _interrupt(events)
        renderer.error(error)
        return error.status
    except RshellError as failure:
        renderer.error(failure)
        return failure.status
    renderer.finish()
    return ExitStatus.OK


def _interrupt(events: Generator[Event, None, None]) -> RshellError:
    """Ctrl-C landed while rendering, outside the pipeline: deliver it there too, so the verb stops
    the way it does for a Ctrl-C of its own and its audit record says 130, not a failure."""
    try:
        events.throw(KeyboardInterrupt())
    except RshellError as error:
        return error
    except (KeyboardInterrupt, StopIteration):
        pass
    return Interrupted("interrupted")


def _streams(session: Session, request: Request) -> bool:
    """Whether this invocation's JSON is NDJSON; a request that will not bind is a document (its error)."""
    from rshell.binding import bind  # noqa: PLC0415 - tiny, already imported by the executor

    verb = session.registry.get(request.verb)
    if verb is None:
        return False
    try:
        return verb.streams(bind(verb.name, verb.spec, request.argv))
    except RshellError:
        return False


def run_batch(run: Callable[[str], int], stdin: BinaryIO, *, keep_going: bool) -> int:
    """Run each line of a non-terminal stdin; stop at the first failure unless told to keep going."""
    last_failure = ExitStatus.OK
    while True:
        raw = stdin.readline(MAX_LINE_BYTES + 2)
        if not raw:
            return last_failure
        line = line_text(raw, stdin)
        if line.split() in (["exit"], ["quit"]):
            return last_failure
        status = run(line)
        if status != ExitStatus.OK:
            last_failure = status
            if not keep_going:
                return status


def line_text(raw: bytes, stdin: BinaryIO) -> str:
    """A line of stdin as text for the lexer to judge: invalid UTF-8 kept as surrogates, and a
    line over the cap cut just past it (the rest skipped), so the lexer refuses either with its reason."""
    if not raw.endswith(b"\n") and len(raw) > MAX_LINE_BYTES:
        while (rest := stdin.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
        raw = raw[: MAX_LINE_BYTES + 1]
    return raw.decode("utf-8", "surrogateescape").removesuffix("\n").removesuffix("\r")
