"""The tools of one MCP session: which exist for the principal now, and a call's checks before it runs.

A name that is no tool for this principal (made up, a verb its role does not allow, or one of
``help``/``exit``/``mcp``) gets the same JSON-RPC error -32602 and the same words, so the answer
says nothing about what is installed. Refusals before a call runs are audited like refused lines.
"""

from __future__ import annotations

import dataclasses

import mcp_types as types
from mcp.shared.exceptions import MCPError

from rshell.completion import Candidates
from rshell.errors import Denied, RshellError, UnknownVerb, UsageError
from rshell.executor import Session, audit_refused_line
from rshell.mcp.arguments import argv_for
from rshell.mcp.follow import follow_deadline
from rshell.mcp.framing import Refusal
from rshell.mcp.limits import TOO_MANY_CALLS, McpLimits
from rshell.mcp.schema import needs_approval, tool_for
from rshell.mcp.wording import in_mcp_words
from rshell.render.jsonout import dumps
from rshell.render.sanitize import sanitize
from rshell.verb import Verb

#: verbs that make no sense as tools: the session itself, leaving it, and help (the tool list is the help)
NOT_TOOLS = frozenset({"help", "exit", "quit", "mcp"})
WHOAMI_URI = "rshell://whoami"
RESOURCE_NOT_FOUND = -32002
#: how much of a client's text an error message quotes
QUOTE = 64


class Tools:
    """One session's tools, computed from the policy in force at each use."""

    def __init__(self, session: Session, limits: McpLimits) -> None:
        self.session = session
        self.limits = limits
        self.candidates = Candidates(session)

    def verbs(self) -> list[Verb]:
        session = self.session.current()
        names = session.view.allowed_verbs(set(session.registry.names()))
        verbs = (session.registry.get(name) for name in names if name not in NOT_TOOLS)
        return [verb for verb in verbs if verb is not None]

    def listing(self) -> list[types.Tool]:
        return [tool_for(verb, self.candidates, self.limits) for verb in self.verbs()]

    def check_cursor(self, params: types.PaginatedRequestParams | None) -> None:
        """The whole list is one page: any cursor is one we never gave out."""
        if params is not None and params.cursor is not None:
            raise MCPError(code=types.INVALID_PARAMS, message="Invalid params: unknown cursor (the list has one page)")

    def prepare(
        self, params: types.CallToolRequestParams, in_flight: int
    ) -> tuple[Verb, tuple[str, ...], float | None]:
        """The verb, argv and follow deadline of a call; MCPError for a call that is no call at all."""
        verb = next((verb for verb in self.verbs() if verb.name == params.name), None)
        if verb is None:
            self._audit(params, UnknownVerb(f"unknown tool {params.name[:QUOTE]!r}"))
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {sanitize(params.name[:QUOTE])!r}")
        self.check_room(in_flight, params)
        try:
            arguments, deadline = follow_deadline(verb, params.arguments, self.limits)
            return verb, argv_for(verb, arguments, reason=needs_approval(verb, self.candidates)), deadline
        except RshellError as error:
            self._audit(params, error)
            raise ToolRefusal(verb, error) from None

    def check_room(self, in_flight: int, params: types.CallToolRequestParams | None = None) -> None:
        """Refuse a call past ``max_calls`` in flight: JSON-RPC error -32010, audited."""
        if in_flight < self.limits.max_calls:
            return
        message = f"{in_flight} calls are in flight, the most one MCP session may have (settings.mcp.max_calls)"
        self._audit(params, Denied(message))
        raise MCPError(code=TOO_MANY_CALLS, message=f"Too many calls in flight: {message}")

    def check_resource(self, uri: str, in_flight: int) -> None:
        if uri != WHOAMI_URI:
            raise MCPError(code=RESOURCE_NOT_FOUND, message="Resource not found", data={"uri": sanitize(uri[:256])})
        self.check_room(in_flight)

    def worded(self, verb: Verb, result: types.CallToolResult) -> types.CallToolResult:
        """A tool error's text in MCP words (argument names, no command-line usage)."""
        if not result.is_error:
            return result
        content = [
            types.TextContent(text=in_mcp_words(verb, item.text)) if isinstance(item, types.TextContent) else item
            for item in result.content
        ]
        structured = result.structured_content
        if isinstance(structured, dict) and isinstance(structured.get("error"), dict):
            error = dict(structured["error"])
            error["message"] = in_mcp_words(verb, str(error.get("message", "")))
            structured = {**structured, "error": error}
        return result.model_copy(update={"content": content, "structured_content": structured})

    def audit_frame_refusal(self, refusal: Refusal, oversized: bool) -> None:
        """A line that was no message (or too long to be one) is audited as a refused line is."""
        line = f"<json-rpc message over {self.limits.max_message} bytes>" if oversized else "<malformed json-rpc>"
        audit_refused_line(self._mcp_session(), line, UsageError(refusal.message))

    def _audit(self, params: types.CallToolRequestParams | None, error: RshellError) -> None:
        call = f"{params.name} {dumps(params.arguments or {})}" if params is not None else "resources/read"
        audit_refused_line(self._mcp_session(), call, error)

    def _mcp_session(self) -> Session:
        return dataclasses.replace(self.session.current(), mode="mcp")


class ToolRefusal(Exception):
    """An argument refusal: answered as a tool error (isError), which the model can read and fix."""

    def __init__(self, verb: Verb, error: RshellError) -> None:
        super().__init__(error.message)
        self.verb = verb
        self.error = error
