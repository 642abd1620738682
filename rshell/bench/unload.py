"""Unload a model between the models of a bench, so the next one loads into free VRAM."""

from __future__ import annotations

import threading
import time

from rshell.ollama import OllamaClient, OllamaError, RequestCancelled

#: the most an unload between models may take, and how often /api/ps is asked meanwhile
UNLOAD_WAIT_S, UNLOAD_POLL_S = 10.0, 0.25


class UnloadCancelled(Exception):
    """The cancel signal was set while waiting for the model to go."""


def unload(client: OllamaClient, model: str, cancel: threading.Event, total_deadline: float) -> str:
    """Unload ``model`` (an empty prompt with keep_alive 0, as ``ollama stop``: server/routes.go
    GenerateHandler expires the runner) and wait, bounded, until /api/ps no longer lists it.
    What happened, in a few words: "unloaded", or why not."""
    body = {"model": model, "prompt": "", "keep_alive": 0}
    deadline = min(time.monotonic() + UNLOAD_WAIT_S, total_deadline)
    try:
        list(client.generate_request(body, deadline=deadline))
        while any(entry.get("name") == model for entry in client.running()):
            if time.monotonic() >= deadline:
                return f"still loaded after {UNLOAD_WAIT_S:g}s"
            if cancel.wait(UNLOAD_POLL_S):
                raise UnloadCancelled
    except RequestCancelled:
        raise UnloadCancelled from None
    except OllamaError as error:
        return f"not unloaded: {error}"
    return "unloaded"
