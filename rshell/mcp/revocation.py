"""Whether this MCP session may go on: the ``mcp`` verb itself, decided on the policy in force now.

A role that loses ``mcp`` (or a caller who loses its role) while a session is open gets, for every
request from then on, the JSON-RPC error MCP_REVOKED; the session is then closed. Each refusal is
audited as a refused line.
"""

from __future__ import annotations

import contextlib
import dataclasses

from mcp.shared.exceptions import MCPError

from rshell.errors import Denied, RshellError
from rshell.executor import Session, audit_refused_line

#: JSON-RPC error code (implementation-defined server range) for a request after ``mcp`` was revoked
MCP_REVOKED = -32001


def mcp_denial(session: Session) -> str | None:
    """Why this session may not go on (None: it may); a caller who cannot be identified now is denied."""
    try:
        decision = session.current().view.decide_verb("mcp")
    except RshellError as error:
        return error.message
    return None if decision.allowed else decision.reason


def revoked_error(session: Session, method: str, reason: str) -> MCPError:
    """The answer to one request after revocation, audited (when the audit log can be reached)."""
    with contextlib.suppress(RshellError):
        audit_refused_line(dataclasses.replace(session.current(), mode="mcp"), f"<mcp {method}>", Denied(reason))
    message = f"your role no longer allows mcp ({reason}); this session is closed"
    return MCPError(code=MCP_REVOKED, message=message, data={"reason": reason})
