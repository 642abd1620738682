"""``mcp``: serve the verbs this principal may use as MCP tools on stdin/stdout (for agents).

The server itself runs from the CLI (``ssh host -- mcp`` is the whole command); as a verb, ``mcp``
exists so the policy can allow or deny it like any other and ``help`` lists it. A verb never
reads stdin, so running it from a line (the REPL, a batch, ``mcp --json``) is a usage error.
"""

from __future__ import annotations

from collections.abc import Iterator

from rshell.errors import UsageError
from rshell.events import Event
from rshell.policy.schema import Field, Kind
from rshell.spec import Arguments
from rshell.verb import Context, Verb

WHOLE_COMMAND = "mcp starts an MCP session: run it as the whole command, e.g. ssh host -- mcp"


class Mcp(Verb):
    name = "mcp"
    summary = "serve your allowed verbs as MCP tools on stdin/stdout (for agents)"
    requires = ("rshell.mcp.server",)  # the MCP SDK, and everything the server module imports
    requires_extra = "mcp"
    description = (
        "Each verb you may use becomes a tool whose input schema comes from its arguments; calls go\n"
        "through the same policy decisions, limits and audit log (mode 'mcp'). Register\n"
        "'ssh ai-worker@host -- mcp' as a stdio MCP server in your agent's configuration."
    )
    settings = (
        Field(
            "max_message",
            Kind.SIZE,
            "the longest JSON-RPC message (one line) a client may send",
            default=1 << 20,
            minimum=4096,
            maximum=64 << 20,
        ),
        Field("max_calls", Kind.INTEGER, "calls in flight in one MCP session", default=8, minimum=1, maximum=64),
        Field("max_follow", Kind.DURATION, "the longest a logs follow may run (its seconds argument)", default=60.0),
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        raise UsageError(WHOLE_COMMAND)
