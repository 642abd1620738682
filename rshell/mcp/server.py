"""``mcp``: an MCP server on stdin/stdout whose tools are the verbs this principal may use.

Every call becomes a Request and goes through the executor (bind, decision, targets, limits,
audit) in mode "mcp"; a refusal or failure is a tool error with its one-line message, never a
crash of the server. Tools and their enums are computed per ``tools/list`` from the policy view.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TextIO

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

from rshell import __version__
from rshell.completion import Candidates
from rshell.errors import ExitStatus, RshellError, UnknownVerb
from rshell.events import Progress
from rshell.executor import Session, audit_refused_line
from rshell.lexer import Request
from rshell.mcp.arguments import argv_for
from rshell.mcp.calls import run_call
from rshell.mcp.results import failure
from rshell.mcp.schema import tool_for
from rshell.render.jsonout import dumps
from rshell.verb import Verb

#: verbs that make no sense as tools: the session itself, leaving it, and help (the tool list is the help)
NOT_TOOLS = frozenset({"help", "exit", "quit", "mcp"})
WHOAMI_URI = "rshell://whoami"
INSTRUCTIONS = (
    "rshell: each tool is one verb of a restricted shell on this host, scoped by its policy. "
    "Enums list what you may name (visible containers, bench targets, models). "
    "A refused call is a tool error that says why; calls are audited."
)


def run_mcp(session: Session, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Serve until the client closes its input (this process's stdin, or the broker connection)."""
    anyio.run(_serve, session, stdin, stdout)
    return ExitStatus.OK


async def _serve(session: Session, stdin: TextIO | None, stdout: TextIO | None) -> None:
    handlers = Handlers(session)
    server: Server[Any] = Server(
        "rshell",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=handlers.list_tools,
        on_call_tool=handlers.call_tool,
        on_list_resources=handlers.list_resources,
        on_read_resource=handlers.read_resource,
    )
    streams = (anyio.wrap_file(stdin), anyio.wrap_file(stdout)) if stdin and stdout else (None, None)
    async with stdio_server(*streams) as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


class Handlers:
    """The MCP requests rshell answers, for one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.candidates = Candidates(session)

    def tool_verbs(self) -> list[Verb]:
        names = self.session.view.allowed_verbs(set(self.session.registry.names()))
        verbs = (self.session.registry.get(name) for name in names if name not in NOT_TOOLS)
        return [verb for verb in verbs if verb is not None]

    def tools(self) -> list[types.Tool]:
        return [tool_for(verb, self.candidates) for verb in self.tool_verbs()]

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=await anyio.to_thread.run_sync(self.tools))

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        verb = self.session.registry.get(params.name) if params.name not in NOT_TOOLS else None
        try:
            if verb is None:
                raise UnknownVerb(f"unknown tool {params.name!r} (tools/list shows the tools you may use)")
            argv = argv_for(verb, params.arguments)
        except RshellError as error:
            self.audit_refusal(params, error)
            return failure(error)
        return await run_call(self.session, Request(verb.name, argv), ProgressReporter(ctx))

    def audit_refusal(self, params: types.CallToolRequestParams, error: RshellError) -> None:
        """A call refused before it became a request is audited as a refused line is."""
        call = f"{params.name} {dumps(params.arguments or {})}"
        audit_refused_line(dataclasses.replace(self.session, mode="mcp"), call, error)

    async def list_resources(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        whoami = types.Resource(
            uri=WHOAMI_URI,
            name="whoami",
            description="who you are to rshell: user, role, allowed verbs, visible containers",
            mime_type="application/json",
        )
        return types.ListResourcesResult(resources=[whoami])

    async def read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        if params.uri != WHOAMI_URI:
            raise ValueError(f"unknown resource {params.uri!r}")
        result = await run_call(self.session, Request("whoami", ()), _ignore_progress)
        text = result.content[0].text if isinstance(result.content[0], types.TextContent) else ""
        contents = types.TextResourceContents(uri=WHOAMI_URI, mime_type="application/json", text=text)
        return types.ReadResourceResult(contents=[contents])


@dataclass
class ProgressReporter:
    """Progress notifications for one call, when the client sent a progress token (a no-op otherwise).

    MCP wants each notification's progress to be greater than the last, so repeats are dropped.
    """

    ctx: ServerRequestContext[Any]
    last: int = -1

    async def __call__(self, progress: Progress) -> None:
        if progress.done <= self.last:
            return
        self.last = progress.done
        await self.ctx.session.report_progress(progress.done, progress.total or None, progress.label)


async def _ignore_progress(progress: Progress) -> None:
    return None
