"""What one MCP session may take: bytes per message, calls in flight, seconds per follow (policy ``settings.mcp``)."""

from __future__ import annotations

from dataclasses import dataclass

from rshell.executor import Session

#: JSON-RPC error code (implementation-defined server range) for a call over ``max_calls``
TOO_MANY_CALLS = -32010
DEFAULT_MAX_MESSAGE = 1 << 20
DEFAULT_MAX_CALLS = 8
DEFAULT_MAX_FOLLOW = 60.0
#: how long a follow runs when the client does not say (never more than ``max_follow``)
DEFAULT_FOLLOW_SECONDS = 10


@dataclass(frozen=True)
class McpLimits:
    """The caps of one MCP session, from the policy in force when it started (defaults otherwise)."""

    max_message: int = DEFAULT_MAX_MESSAGE
    max_calls: int = DEFAULT_MAX_CALLS
    max_follow: float = DEFAULT_MAX_FOLLOW

    @classmethod
    def of(cls, session: Session) -> McpLimits:
        settings = session.view.settings("mcp")
        message, calls, follow = settings.get("max_message"), settings.get("max_calls"), settings.get("max_follow")
        return cls(
            max_message=message if isinstance(message, int) else DEFAULT_MAX_MESSAGE,
            max_calls=calls if isinstance(calls, int) else DEFAULT_MAX_CALLS,
            max_follow=float(follow) if isinstance(follow, int | float) else DEFAULT_MAX_FOLLOW,
        )

    @property
    def follow_seconds(self) -> int:
        """The largest ``seconds`` a follow may ask for."""
        return max(1, int(self.max_follow))
