"""One tool call: the executor runs in a worker thread; its events come back to the server's loop.

The worker owns the request's generator from start to end, so the executor writes its audit record
when the verb ends. A cancel from the client sets the call's cancel event (verbs that wait check it)
and is thrown into the generator as a Ctrl-C would be, so it ends the way an interrupted verb does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass

import anyio
import anyio.from_thread
import anyio.lowlevel
import mcp_types as types

from rshell.errors import RshellError, VerbFailed
from rshell.events import Event, Progress
from rshell.executor import Session, execute
from rshell.lexer import Request
from rshell.mcp.results import Collected, failure, success
from rshell.verb import CancelSignal

ReportProgress = Callable[[Progress], Awaitable[None]]
Deliver = Callable[["Event | Finished"], None]


@dataclass(frozen=True)
class Finished:
    """The worker is done: the error the request ended with, if any."""

    error: RshellError | None


async def run_call(session: Session, request: Request, report: ReportProgress) -> types.CallToolResult:
    """Execute one request in mode "mcp" with its own cancel event; the tool result it earned."""
    call = dataclasses.replace(session, mode="mcp", cancel=CancelSignal())
    send, receive = anyio.create_memory_object_stream[Event | Finished](math.inf)
    token = anyio.lowlevel.current_token()

    def deliver(item: Event | Finished) -> None:
        # once the call is cancelled (or the server is stopping) nobody is listening any more
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, RuntimeError):
            anyio.from_thread.run_sync(send.send_nowait, item, token=token)

    worker = threading.Thread(target=_work, args=(call, request, deliver), name=f"mcp-{request.verb}", daemon=True)
    collected = Collected()
    try:
        with receive:
            worker.start()
            async for item in receive:
                if isinstance(item, Finished):
                    return failure(item.error, collected) if item.error else success(collected)
                if isinstance(item, Progress):
                    await report(item)
                collected.add(item)
    except anyio.get_cancelled_exc_class():
        call.cancel.set()  # the worker winds the verb down and the executor audits it; nobody waits for it
        raise
    return failure(VerbFailed(f"{request.verb}: the call ended without an answer"), collected)


def _work(session: Session, request: Request, deliver: Deliver) -> None:
    error: RshellError | None = None
    try:
        _drain(execute(session, request), session.cancel, deliver)
    except RshellError as raised:
        error = raised
    except Exception as raised:  # one call's bug must never take the server down
        error = VerbFailed(f"internal error: {type(raised).__name__}: {str(raised)[:300]}")
    deliver(Finished(error))


def _drain(events: object, cancel: threading.Event, deliver: Deliver) -> None:
    """Deliver each event; once cancelled, interrupt the generator at its next event (as Ctrl-C does)."""
    assert isinstance(events, Generator)
    interrupted = False
    while True:
        try:
            event = next(events)
            if cancel.is_set() and not interrupted:
                interrupted = True
                event = events.throw(KeyboardInterrupt())
        except StopIteration:
            return
        deliver(event)
