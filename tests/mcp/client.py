"""An MCP client from the official SDK, driving ``rshell -c mcp`` as a real process."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import mcp_types as types
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.support.shell import audit_records


def server_parameters(policy: Path) -> StdioServerParameters:
    args = ["-I", "-m", "rshell.cli", "--policy", str(policy), "-c", "mcp"]
    return StdioServerParameters(command=sys.executable, args=args, cwd="/")


@asynccontextmanager
async def connect(policy: Path, errlog: TextIO = sys.stderr) -> AsyncIterator[ClientSession]:
    """An initialised client session with a fresh server process; the process ends with the block."""
    async with (
        stdio_client(server_parameters(policy), errlog=errlog) as (read_stream, write_stream),
        ClientSession(read_stream, write_stream) as session,
    ):
        await session.initialize()
        yield session


async def tools_by_name(session: ClientSession) -> dict[str, types.Tool]:
    return {tool.name: tool for tool in (await session.list_tools()).tools}


def text_of(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent)
    return first.text


def structured(result: types.CallToolResult) -> dict[str, Any]:
    """The structured content, checked against the JSON text content that carries the same document."""
    assert isinstance(result.structured_content, dict)
    if not result.is_error:
        assert json.loads(text_of(result)) == result.structured_content
    return result.structured_content


def enums(schema: Any) -> list[str]:
    """Every enum value anywhere in a JSON schema."""
    if isinstance(schema, dict):
        found = [str(value) for value in schema.get("enum", [])]
        return found + [value for child in schema.values() for value in enums(child)]
    if isinstance(schema, list):
        return [value for child in schema for value in enums(child)]
    return []


def wait_for_record(policy_dir: Path, match: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
    """The first audit record that matches, waiting for the server to write it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [record for record in audit_records(policy_dir) if match(record)]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching audit record in {audit_records(policy_dir)}")
        time.sleep(0.05)
