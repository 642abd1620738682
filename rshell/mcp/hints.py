"""Each tool's title and annotations, stated per verb: a client may auto-approve what says read-only."""

from __future__ import annotations

from dataclasses import dataclass

import mcp_types as types

from rshell.verb import Verb


@dataclass(frozen=True)
class Hints:
    title: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool


HINTS: dict[str, Hints] = {
    "ps": Hints("List containers", read_only=True, destructive=False, idempotent=True, open_world=False),
    "logs": Hints("Read container logs", read_only=True, destructive=False, idempotent=True, open_world=False),
    "whoami": Hints("Who am I to rshell", read_only=True, destructive=False, idempotent=True, open_world=False),
    "vram": Hints("GPU memory and loaded models", read_only=True, destructive=False, idempotent=True, open_world=True),
    # a restart interrupts the service inside: destructive, and never a no-op when repeated
    "restart": Hints("Restart a container", read_only=False, destructive=True, idempotent=False, open_world=False),
    # bench runs for up to its total timeout, holds the target's lock, writes history, talks to ollama
    "bench": Hints("Benchmark a model", read_only=False, destructive=False, idempotent=False, open_world=True),
    "inspect": Hints("Inspect a container", read_only=True, destructive=False, idempotent=True, open_world=False),
    "stats": Hints("Container resource usage", read_only=True, destructive=False, idempotent=True, open_world=False),
    # starting a running container, or stopping a stopped one, changes nothing: idempotent
    "start": Hints("Start a container", read_only=False, destructive=False, idempotent=True, open_world=False),
    "stop": Hints("Stop a container", read_only=False, destructive=True, idempotent=True, open_world=False),
    # the ollama model verbs talk to a server outside the engine (open world)
    "models": Hints("List ollama models", read_only=True, destructive=False, idempotent=True, open_world=True),
    "load": Hints("Load an ollama model", read_only=False, destructive=False, idempotent=True, open_world=True),
    # unloading frees VRAM another user of the server may be relying on
    "unload": Hints("Unload an ollama model", read_only=False, destructive=True, idempotent=True, open_world=True),
    "pull": Hints("Pull an ollama model", read_only=False, destructive=False, idempotent=True, open_world=True),
    # reads the caller's own approval requests from the broker's state directory
    "requests": Hints("Your approval requests", read_only=True, destructive=False, idempotent=True, open_world=False),
}


def hints_for(verb: Verb) -> Hints:
    """The verb's hints; a verb not listed here is judged by whether it changes state (cautiously)."""
    known = HINTS.get(verb.name)
    if known is not None:
        return known
    title = verb.name.replace("_", " ").capitalize()
    changes = verb.changes_state
    return Hints(title, read_only=not changes, destructive=changes, idempotent=not changes, open_world=True)


def tool_annotations(verb: Verb) -> types.ToolAnnotations:
    hints = hints_for(verb)
    return types.ToolAnnotations(
        title=hints.title,
        read_only_hint=hints.read_only,
        destructive_hint=hints.destructive,
        idempotent_hint=hints.idempotent,
        open_world_hint=hints.open_world,
    )
