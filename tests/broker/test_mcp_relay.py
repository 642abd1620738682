"""The MCP relay's line filter: MCP traffic passes byte for byte, however it is cut into chunks; the
broker's own end line never reaches stdout and becomes the error the client reports."""

from __future__ import annotations

import io

import pytest

from rshell.client import McpRelay, RemoteError

RESULT = b'{"jsonrpc":"2.0","id":1,"result":{}}\n'
BIG = b'{"jsonrpc":"2.0","id":2,"result":{"text":"' + b"a" * 200_000 + b'"}}\n'
END = b'{"v":1,"op":"end","status":1,"error":{"code":"failed","message":"internal error in the broker"}}\n'


def relayed(data: bytes, size: int) -> tuple[bytes, RemoteError | None]:
    relay, out = McpRelay(None), io.BytesIO()  # type: ignore[arg-type]  # copy() never touches the socket
    for start in range(0, len(data), size):
        error = relay.copy(data[start : start + size], out)
        if error is not None:
            return out.getvalue(), error
    return out.getvalue() + relay.head, None


@pytest.mark.parametrize("size", [1, 7, 17, 18, 4096, 65536, 1_000_000])
def test_mcp_traffic_passes_unchanged_in_any_chunking(size: int) -> None:
    traffic = RESULT + BIG + b"\n" + b'{"v"\n' + RESULT
    assert relayed(traffic, size) == (traffic, None)


@pytest.mark.parametrize("size", [1, 5, 17, 40, 65536])
def test_the_brokers_end_line_is_an_error_not_output(size: int) -> None:
    output, error = relayed(RESULT + END + RESULT, size)
    assert output == RESULT
    assert isinstance(error, RemoteError)
    assert (error.status, error.code, error.message) == (1, "failed", "internal error in the broker")
