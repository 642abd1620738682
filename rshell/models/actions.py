"""What load, unload and pull ask an ollama server, and how their answers become results or errors.

Load and unload are an empty-prompt /api/generate (server/routes.go GenerateHandler: with
``keep_alive`` 0 it expires the runner and answers ``done_reason: "unload"``, else it schedules the
runner and answers ``done_reason: "load"``). Pull reads /api/pull's progress stream, summing each
layer's ``total`` by digest; once that sum passes the policy's cap it stops reading and closes the
connection, which cancels the pull on the server (PullHandler runs it in the request's context).
All three take the target's bench lock (rshell.bench.lock), so none of them disturbs a running bench.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator
from typing import Any

from rshell.authority.streamwatch import StreamWatch, stream_stop
from rshell.bench.lock import target_lock
from rshell.errors import Denied, Interrupted, VerbFailed
from rshell.events import Event, Progress
from rshell.models.policy import ModelTarget
from rshell.ollama.client import OllamaClient, OllamaError, RequestCancelled, clean_text, pull_stream
from rshell.units import format_bytes
from rshell.verb import Context

#: what the listing calls (/api/tags, /api/ps) may take in total
LIST_TIMEOUT_SECONDS = 10.0


def client_for(ctx: Context, target: ModelTarget, timeout: float = LIST_TIMEOUT_SECONDS) -> OllamaClient:
    return OllamaClient(target.url, timeout=timeout, cancel=ctx.cancel)


def keep_alive_request(
    ctx: Context, verb: str, target: ModelTarget, model: str, *, keep_alive: float, timeout: float
) -> str:
    """Send the empty-prompt generate and return the server's ``done_reason`` ("load" or "unload")."""
    body = {"model": model, "prompt": "", "keep_alive": _seconds(keep_alive)}
    client = client_for(ctx, target, timeout)
    with target_lock(ctx.state_dir, target.name), failures(verb, target):  # never under a running bench
        chunks = list(client.generate_request(body, deadline=time.monotonic() + timeout))
    return str(chunks[-1].get("done_reason") or "") if chunks else ""


def pull_progress(
    ctx: Context, target: ModelTarget, model: str, *, max_bytes: int, timeout: float
) -> Generator[Event, None, int]:
    """Progress events of the pull; returns the final digest-summed size. Denied once over ``max_bytes``,
    and (126) once the policy in force no longer allows the pull: it is decided again every few seconds."""
    stop = stream_stop(ctx.cancel)  # the caller's cancel, or the watch; either closes the connection
    client = OllamaClient(target.url, timeout=timeout, cancel=stop)
    sizes: dict[str, tuple[int, int]] = {}
    shown: tuple[str, int] | None = None
    with (
        target_lock(ctx.state_dir, target.name),
        StreamWatch(ctx.still_allowed, stop) as watch,
        failures("pull", target, watch),
        contextlib.closing(pull_stream(client, model, deadline=time.monotonic() + timeout)) as stream,
    ):
        for update in stream:
            digest, total, done = update.get("digest"), _count(update.get("total")), _count(update.get("completed"))
            if isinstance(digest, str) and total:
                sizes[digest] = (total, min(done, total))
            announced = sum(size for size, _ in sizes.values())
            if announced > max_bytes:
                raise Denied(
                    f"pull: {model} is larger than the policy allows on {target.name!r} "
                    f"({format_bytes(announced)} so far, cap {format_bytes(max_bytes)}); the pull was stopped"
                )
            status, received = clean_text(str(update.get("status") or "")), sum(part for _, part in sizes.values())
            step = (status, 100 * received // max(announced, 1))
            if step != shown:  # ollama reports many times a second: one event per status and per cent
                shown = step
                yield Progress(f"{model}: {status}"[:80], received, announced or 1)
    return sum(size for size, _ in sizes.values())


@contextlib.contextmanager
def failures(verb: str, target: ModelTarget, watch: StreamWatch | None = None) -> Iterator[None]:
    """An ollama failure as one line (exit 1); a cancel as an interruption, or (126) as the policy's
    when ``watch`` found the verb no longer allowed."""
    try:
        yield
    except RequestCancelled:
        if watch is not None and watch.denied is not None:
            raise Denied(f"{verb}: stopped: {watch.denied.reason}") from None
        raise Interrupted(f"{verb} cancelled") from None
    except OllamaError as error:
        raise VerbFailed(f"{verb}: target {target.name!r}: {clean_text(str(error))}") from None


def _seconds(value: float) -> int | str:
    """keep_alive as ollama reads it (api/types.go Duration: a number is seconds)."""
    return int(value) if float(value).is_integer() else f"{value:g}s"


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
