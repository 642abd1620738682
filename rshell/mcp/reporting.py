"""What a call tells the client while it runs: progress, and a follow's lines as they arrive.

Only a follow streams (a bounded read's lines are in its result). A client that sent a
``progressToken`` gets ``notifications/progress`` (the lines in ``message``,
``progress`` counting them); every client also gets each batch as a ``notifications/message`` log
entry (logger ``rshell.logs``) whose ``data`` is the untrusted-output envelope. The TypeScript SDK
hands both to the application (``onprogress``, a logging notification handler); the Inspector CLI
prints only the final result, which a follow's ``seconds`` bound always delivers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params

from rshell.events import Progress
from rshell.mcp.results import untrusted
from rshell.render.sanitize import sanitize

LOGGER = "rshell.logs"
#: syslog order, as MCP's logging levels are; lines are sent at "info"
LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


@dataclass
class CallReporter:
    """Notifications for one call. MCP wants each progress value greater than the last: repeats are dropped."""

    ctx: ServerRequestContext[Any]
    verb: str
    log_level: str = "info"
    #: whether lines go out as they come (a follow); a bounded read's lines are in its result only
    streaming: bool = False
    last: float = -1
    line_count: int = 0

    async def progress(self, progress: Progress) -> None:
        if progress.done <= self.last:
            return
        self.last = progress.done
        label = sanitize(progress.label) if progress.label else progress.label
        await self.ctx.session.report_progress(progress.done, progress.total or None, label)

    async def lines(self, lines: tuple[str, ...]) -> None:
        if not lines or not self.streaming:
            return
        self.line_count += len(lines)
        envelope = untrusted(lines)
        if progress_token_from_params(self.ctx.params) is not None and self.line_count > self.last:
            self.last = self.line_count
            await self.ctx.session.report_progress(self.line_count, None, "\n".join(envelope["lines"]))
        if LEVELS.index("info") >= LEVELS.index(self.log_level if self.log_level in LEVELS else "info"):
            data = {**envelope, "verb": self.verb}
            entry = types.LoggingMessageNotificationParams(level="info", logger=LOGGER, data=data)
            notification = types.LoggingMessageNotification(params=entry)
            await self.ctx.session.send_notification(notification, related_request_id=self.ctx.request_id)


class SilentReporter:
    """For calls nobody watches (the whoami resource)."""

    async def progress(self, progress: Progress) -> None:
        return None

    async def lines(self, lines: tuple[str, ...]) -> None:
        return None
