"""A follow over MCP is bounded: ``seconds`` (capped by the policy's ``mcp.max_follow``) ends it with its lines.

A tool call must end with one result, and clients give up on a request after a timeout of their
own (60 s in the TypeScript SDK), so an unbounded ``follow`` could only ever lose its lines. Here a
follow runs for the seconds the client asks (10 by default), its lines go out as notifications
while it runs, and the lines it gathered are its result when the time is up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rshell.errors import UsageError
from rshell.mcp.limits import DEFAULT_FOLLOW_SECONDS, McpLimits
from rshell.verb import Verb

SECONDS = "seconds"
FOLLOW = "follow"


def is_follow_verb(verb: Verb) -> bool:
    return any(option.key == FOLLOW for option in verb.spec.options)


#: what ``follow`` does over MCP (the verb's own help speaks of Ctrl-C)
FOLLOW_HELP = (
    "stream new lines (as notifications) until seconds have passed, the call is cancelled or the container "
    "stops; the result holds every line"
)


def follow_property(limits: McpLimits) -> dict[str, Any]:
    most = limits.follow_seconds
    return {
        FOLLOW: {"type": "boolean", "default": False, "description": FOLLOW_HELP},
        SECONDS: {
            "type": "integer",
            "minimum": 1,
            "maximum": most,
            "default": min(DEFAULT_FOLLOW_SECONDS, most),
            "description": f"with follow: stop after this many seconds and return the lines (at most {most})",
        },
    }


def follow_deadline(
    verb: Verb, arguments: Mapping[str, object] | None, limits: McpLimits
) -> tuple[dict[str, object], float | None]:
    """The arguments without ``seconds``, and the seconds this call may run (None: not a follow)."""
    given = dict(arguments or {})
    if not is_follow_verb(verb):
        return given, None
    seconds = given.pop(SECONDS, None)
    if given.get(FOLLOW) is not True:
        if seconds is not None:
            raise UsageError(f"{verb.name}: {SECONDS} needs {FOLLOW}: true")
        return given, None
    if seconds is None:
        return given, float(min(DEFAULT_FOLLOW_SECONDS, limits.follow_seconds))
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise UsageError(f"{verb.name}: {SECONDS} must be a whole number of at least 1")
    if seconds > limits.follow_seconds:
        most = limits.follow_seconds
        raise UsageError(f"{verb.name}: {SECONDS} must be at most {most} (the policy's mcp.max_follow)")
    return given, float(seconds)
