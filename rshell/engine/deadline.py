"""One blocking engine call with a total deadline that a cancel ends within a second.

docker-py's timeouts are per socket operation, and a call such as ``restart`` legitimately blocks
for its whole stop timeout (dockerd waits before it kills). Run such a call here: it goes on in a
worker thread while the caller waits for its answer, the caller's cancel (Ctrl-C in the broker's
client, an MCP cancel, the client gone) or the deadline, whichever comes first. What the engine
was asked to do still happens; the caller just stops waiting for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from rshell.errors import Interrupted, VerbFailed

T = TypeVar("T")
#: how often the waiting caller looks at its cancel signal (well inside a second)
CANCEL_POLL_SECONDS = 0.1
#: added to an engine call's own allowance (the engine timeout, plus any stop timeout) for its total deadline
MARGIN_SECONDS = 5.0


def bounded_call(call: Callable[[], T], *, seconds: float, cancel: threading.Event, what: str) -> T:
    """``call()``'s answer or exception; Interrupted on cancel, VerbFailed after ``seconds`` in all."""
    done = threading.Event()
    outcome: list[T] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            outcome.append(call())
        except BaseException as error:  # handed to the caller, who raises it as its own
            failure.append(error)
        finally:
            done.set()

    deadline = time.monotonic() + seconds
    threading.Thread(target=work, name=f"engine-{what}", daemon=True).start()
    while not done.wait(CANCEL_POLL_SECONDS):
        if cancel.is_set():
            raise Interrupted(f"{what} cancelled while waiting for the engine")
        if time.monotonic() >= deadline:
            raise VerbFailed(f"{what}: the engine did not answer within {seconds:g}s")
    if failure:
        raise failure[0]
    return outcome[0]
