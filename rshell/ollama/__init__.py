"""Talk to an ollama server through its documented HTTP API (read and generate only)."""

from rshell.ollama.client import (
    ALLOWED_ENDPOINTS,
    MalformedResponse,
    OllamaClient,
    OllamaError,
    RequestCancelled,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
    StreamError,
)

__all__ = [
    "ALLOWED_ENDPOINTS",
    "MalformedResponse",
    "OllamaClient",
    "OllamaError",
    "RequestCancelled",
    "ServerError",
    "ServerTimeout",
    "ServerUnreachable",
    "StreamError",
]
