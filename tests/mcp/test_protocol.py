"""JSON-RPC as the specification says, on a real ``rshell -c mcp`` process: every fault gets its answer."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.mcp.raw import RawPeer, local_command, raw_server
from tests.support.engine import EngineContainers
from tests.support.shell import audit_records

PARSE, INVALID = -32700, -32600
PING = b'{"jsonrpc":"2.0","id":%d,"method":"ping"}'

#: (case, the line sent, the id and the error code of the answer)
MALFORMED: list[tuple[str, bytes, int | str | None, int]] = [
    ("garbage", b"garbage", None, PARSE),
    ("truncated JSON", b'{"jsonrpc":"2.0","id":1,"method":"ping"', None, PARSE),
    ("two objects on a line", PING % 2 + PING % 3, None, PARSE),
    ("not UTF-8", b'{"jsonrpc":"2.0","id":4,"method":"\xff"}', None, PARSE),
    ("NaN", b'{"jsonrpc":"2.0","id":NaN,"method":"ping"}', None, PARSE),
    ("a deeply nested value", b"[" * 100_000 + b"]" * 100_000, None, PARSE),
    ("id true", b'{"jsonrpc":"2.0","id":true,"method":"ping"}', None, INVALID),
    ("id an object", b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', None, INVALID),
    ("id a float", b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', None, INVALID),
    ("id null", b'{"jsonrpc":"2.0","id":null,"method":"ping"}', None, INVALID),
    ("jsonrpc missing", b'{"id":5,"method":"ping"}', 5, INVALID),
    ("jsonrpc 1.0", b'{"jsonrpc":"1.0","id":6,"method":"ping"}', 6, INVALID),
    ("method a number", b'{"jsonrpc":"2.0","id":7,"method":7}', 7, INVALID),
    ("params an array", b'{"jsonrpc":"2.0","id":"eight","method":"tools/list","params":[]}', "eight", INVALID),
    ("params a string", b'{"jsonrpc":"2.0","id":9,"method":"ping","params":"x"}', 9, INVALID),
    ("neither method nor result", b'{"jsonrpc":"2.0","id":10}', 10, INVALID),
    ("a batch", b"[" + PING % 11 + b"]", None, INVALID),
    ("an empty batch", b"[]", None, INVALID),
    ("a bare number", b"42", None, INVALID),
]


@pytest.fixture
def peer(mcp_policy: Path, tmp_path: Path) -> Any:
    with (tmp_path / "stderr").open("wb") as stderr, raw_server(local_command(mcp_policy), stderr) as running:
        running.initialize()
        yield running
    assert "Traceback" not in (tmp_path / "stderr").read_text()


@pytest.mark.parametrize(("line", "expected_id", "code"), [row[1:] for row in MALFORMED], ids=[r[0] for r in MALFORMED])
def test_a_malformed_message_gets_its_error_and_the_session_goes_on(
    peer: RawPeer, line: bytes, expected_id: int | str | None, code: int
) -> None:
    peer.send(line + b"\n")
    answer = peer.next()
    assert answer is not None
    assert (answer["jsonrpc"], answer["id"], answer["error"]["code"]) == ("2.0", expected_id, code), answer
    assert peer.call(99, "ping") == {"jsonrpc": "2.0", "id": 99, "result": {}}


def test_an_over_cap_line_is_answered_once_and_the_next_line_is_served(peer: RawPeer, mcp_policy: Path) -> None:
    peer.send(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"' + b"x" * (3 << 20) + b'"}}\n')
    answer = peer.next()
    assert answer is not None
    assert (answer["id"], answer["error"]["code"]) == (None, INVALID)
    assert "longer than 1048576 bytes" in answer["error"]["message"]
    assert peer.call(2, "ping")["result"] == {}
    refused = [r for r in audit_records(mcp_policy.parent) if r.get("line") == "<json-rpc message over 1048576 bytes>"]
    assert [(r["mode"], r["decision"]) for r in refused] == [("mcp", "refused")]


def test_unknown_and_denied_tools_get_the_same_protocol_error(peer: RawPeer, mcp_policy: Path) -> None:
    made_up = peer.call(1, "tools/call", {"name": "rm", "arguments": {}})
    denied = peer.call(2, "tools/call", {"name": "vram", "arguments": {}})  # registered, not in this role
    for answer, name in ((made_up, "rm"), (denied, "vram")):
        assert answer["error"] == {"code": -32602, "message": f"Unknown tool: {name!r}"}
    lines = [r["line"] for r in audit_records(mcp_policy.parent) if r["decision"] == "refused"]
    assert lines == ["rm {}", "vram {}"]


def test_resources_templates_and_cursors(peer: RawPeer) -> None:
    unknown = peer.call(1, "resources/read", {"uri": "rshell://nothing"})
    assert unknown["error"]["code"] == -32002
    assert peer.call(2, "resources/templates/list")["result"] == {"resourceTemplates": []}
    assert peer.call(3, "tools/list", {"cursor": "bogus"})["error"]["code"] == -32602
    assert (
        peer.call(4, "resources/read", {"uri": "rshell://whoami"})["result"]["contents"][0]["uri"] == "rshell://whoami"
    )


def test_the_server_declares_list_changed_and_logging(mcp_policy: Path) -> None:
    with raw_server(local_command(mcp_policy)) as running:
        capabilities = running.initialize()["result"]["capabilities"]
    assert capabilities["tools"] == {"listChanged": True}
    assert "logging" in capabilities


def test_calls_past_the_in_flight_cap_are_refused_and_audited(
    peer: RawPeer, mcp_policy: Path, containers: EngineContainers
) -> None:
    follow = {"name": "logs", "arguments": {"container": containers.name("labelled"), "follow": True, "seconds": 30}}
    for request_id in range(1, 13):
        peer.send({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": follow})
    refused = [peer.answer(request_id) for request_id in range(9, 13)]
    assert {answer["error"]["code"] for answer in refused} == {-32010}
    assert "Too many calls in flight" in refused[0]["error"]["message"]
    assert peer.call(50, "ping")["result"] == {}  # the session still answers while eight calls run
    for request_id in range(1, 9):
        peer.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id}})
    answer, retries = call_when_room(peer, "whoami", {})
    assert answer["result"]["isError"] is False  # a slot frees once its verb has wound down
    records = [r for r in audit_records(mcp_policy.parent) if "settings.mcp.max_calls" in str(r.get("reason", ""))]
    assert len(records) == 4 + retries  # one record per refusal


def call_when_room(peer: RawPeer, name: str, arguments: dict[str, Any], tries: int = 100) -> tuple[dict[str, Any], int]:
    """Call until the in-flight cap has room (cancelled calls leave it as their verbs wind down); the
    answer, and how many tries were refused on the way."""
    for refused, request_id in enumerate(range(1000, 1000 + tries)):
        answer = peer.call(request_id, "tools/call", {"name": name, "arguments": arguments})
        if answer.get("error", {}).get("code") != -32010:
            return answer, refused
        time.sleep(0.1)
    raise AssertionError("the in-flight cap never made room")


def test_sigint_answers_the_calls_in_flight_and_exits_130(
    mcp_policy: Path, policy_dir: Path, containers: EngineContainers
) -> None:
    follow = {"name": "logs", "arguments": {"container": containers.name("app"), "follow": True, "seconds": 60}}
    with raw_server(local_command(mcp_policy)) as running:
        running.initialize()
        running.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": follow})
        running.wait_for(lambda message: message.get("method") == "notifications/message")  # it is running
        running.process.send_signal(subprocess.signal.SIGINT)  # type: ignore[attr-defined]
        answer = running.answer(1)
        status = running.process.wait(timeout=30)
    assert answer["result"]["isError"] is True
    assert answer["result"]["structuredContent"]["error"]["code"] == "interrupted"
    assert answer["result"]["structuredContent"]["partial"]["output"]["lines"]
    assert status == 130
    logs = [r for r in audit_records(policy_dir) if r["verb"] == "logs"]
    assert [(r["phase"], r["exit_code"]) for r in logs] == [("done", 130)]
