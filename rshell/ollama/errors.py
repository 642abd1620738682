"""What can go wrong talking to ollama: one exception per kind, each message one safe line."""

from __future__ import annotations

MAX_ERROR_TEXT = 300


class OllamaError(Exception):
    """Any failure talking to ollama; the message is one line, safe to show."""


class ServerUnreachable(OllamaError):
    """Connection refused, unknown host, network down."""


class ServerTimeout(OllamaError):
    """The server did not answer within the time allowed."""


class MalformedResponse(OllamaError):
    """A body or stream line that is not the JSON object the API documents, or is too large."""


class RequestCancelled(OllamaError):
    """The verb's cancel signal was set; the connection was cut."""


class StreamError(OllamaError):
    """An ``{"error": ...}`` line in the middle of a stream (the status is still 200)."""


class ServerError(OllamaError):
    """An HTTP error status, with ollama's ``{"error": ...}`` text."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text}")
        self.status, self.text = status, text


def clean_text(text: str) -> str:
    """Server text made safe for one line: control characters dropped, length capped."""
    printable = "".join(char if char.isprintable() else " " for char in text)
    return printable[:MAX_ERROR_TEXT].strip()
