"""One tool call: the executor runs in a worker thread; its events come back to the server's loop.

The worker owns the request's generator from start to end, so the executor writes its audit record
when the verb ends. A cancel from the client, a SIGINT, a follow's deadline or the client going away
sets the call's cancel event (verbs that wait check it) and is thrown into the generator as a Ctrl-C
would be; the call then waits (shielded) until the verb has wound down, so its ``done`` record is
always written before the session ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Protocol

import anyio
import anyio.from_thread
import anyio.lowlevel
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream

from rshell.errors import ExitStatus, RshellError, VerbFailed
from rshell.events import Event, LogLines, Progress
from rshell.executor import Session, execute
from rshell.lexer import Request
from rshell.mcp.results import Collected, failure, success
from rshell.verb import CancelSignal

#: the longest a cancelled call waits for its verb to wind down (and write its audit record)
WIND_DOWN_SECONDS = 60.0


Deliver = Callable[["Event | Finished"], None]


class Reporter(Protocol):
    """Where a call's progress and streamed lines go while it runs."""

    async def progress(self, progress: Progress) -> None: ...

    async def lines(self, lines: tuple[str, ...]) -> None: ...


@dataclass(frozen=True)
class Finished:
    """The worker is done: the error the request ended with, if any."""

    error: RshellError | None


@dataclass
class ActiveCalls:
    """The cancel signals of this session's calls in flight (for the cap and for SIGINT)."""

    signals: set[CancelSignal] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.signals)

    def cancel_all(self) -> None:
        for signal in list(self.signals):
            signal.set()


async def run_call(
    session: Session, request: Request, report: Reporter, active: ActiveCalls, deadline: float | None = None
) -> types.CallToolResult:
    """Execute one request in mode "mcp" with its own cancel event; the tool result it earned.

    With a ``deadline`` (seconds) the call is ended then like a cancel, and what it gathered is its
    result (``ended: "deadline"``), not an error.
    """
    call = dataclasses.replace(session, mode="mcp", cancel=CancelSignal())  # execute() renews it: current()
    send, receive = anyio.create_memory_object_stream[Event | Finished](math.inf)
    token = anyio.lowlevel.current_token()

    def deliver(item: Event | Finished) -> None:
        # once the loop is gone (the server stopped) nobody is listening any more
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, RuntimeError):
            anyio.from_thread.run_sync(send.send_nowait, item, token=token)

    assert isinstance(call.cancel, CancelSignal)
    # the worker runs in this task's context: the broker's per-uid stream accounting (a contextvar) follows it
    context = contextvars.copy_context()
    worker = threading.Thread(
        target=context.run, args=(_work, call, request, deliver), name=f"mcp-{request.verb}", daemon=True
    )
    collected = Collected()
    timer = _Deadline(call.cancel, deadline)
    active.signals.add(call.cancel)
    try:
        worker.start()
        async with anyio.create_task_group() as group:
            group.start_soon(timer.run)
            finished = await _gather(receive, collected, report)
            group.cancel_scope.cancel()
    except anyio.get_cancelled_exc_class():
        call.cancel.set()
        with anyio.CancelScope(shield=True), anyio.move_on_after(WIND_DOWN_SECONDS):
            await _gather(receive, collected, None)
        raise
    finally:
        receive.close()
        active.signals.discard(call.cancel)
    if finished is None:
        return failure(VerbFailed(f"{request.verb}: the call ended without an answer"), collected)
    if finished.error is None:
        return success(collected)
    if timer.expired and finished.error.status == ExitStatus.INTERRUPTED:
        collected.ended = "deadline"
        return success(collected)
    return failure(finished.error, collected)


async def _gather(
    receive: MemoryObjectReceiveStream[Event | Finished], collected: Collected, report: Reporter | None
) -> Finished | None:
    async for item in receive:
        if isinstance(item, Finished):
            return item
        if report is not None and isinstance(item, Progress):
            await report.progress(item)
        if report is not None and isinstance(item, LogLines):
            await report.lines(item.lines)
        collected.add(item)
    return None


@dataclass
class _Deadline:
    """Ends a call after ``seconds`` by setting its cancel signal; remembers that it did."""

    cancel: CancelSignal
    seconds: float | None
    expired: bool = False

    async def run(self) -> None:
        if self.seconds is None:
            return
        await anyio.sleep(self.seconds)
        self.expired = True
        self.cancel.set()


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
