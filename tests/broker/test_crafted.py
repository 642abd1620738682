"""Requests written by hand on the broker socket, as the agent: each gets nothing it is not allowed,
and the broker goes on serving everyone else. One row per attack."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import ANY

import pytest

from rshell.broker.handler import REQUEST_TIMEOUT
from tests.broker.conftest import Names
from tests.broker.harness import (
    CRAFTED_CLIENT,
    Agent,
    Broker,
    decode_replies,
    raw_exchange,
    replies_outcome,
    run_as,
    run_client,
)
from tests.support.checks import success


def request(**fields: object) -> bytes:
    return json.dumps({"v": 1, **fields}).encode() + b"\n"


def run_request(line: str, **extra: object) -> bytes:
    return request(op="run", line=line, mode="c", **extra)


CLAIMS = {"user": "root", "uid": 0, "gid": 0, "pid": 1, "groups": ["root", "docker"], "principal": "root"}
#: a malformed message: the connection ends with status 2 and the error code "protocol"
PROTOCOL = "protocol"
#: the broker answers the first request only (a status has no end message) and ignores the rest
NO_END = -1


@dataclass(frozen=True)
class Attack:
    name: str
    payload: bytes
    #: the exit status the connection ends with, or PROTOCOL
    expected: int | str


ATTACKS = [
    Attack("claims to be root: whoami", run_request("whoami --json", **CLAIMS), 0),
    Attack("claims to be root: restart a root-only container", run_request("restart {rootonly}", **CLAIMS), 126),
    Attack("claims to be root: logs of a hidden container", run_request("logs {hidden} --tail 5", **CLAIMS), 126),
    Attack("a verb the role lacks", run_request("vram"), 126),
    Attack("a verb the role lacks, with --json", run_request("vram --json"), 126),
    Attack("an unknown verb", run_request("sh -c id"), 127),
    Attack("shell syntax in the line", run_request("ps; id"), 2),
    Attack("a NUL byte in the line", run_request("ps\x00--all"), 2),
    Attack("oversized, no newline", b'{"v":1,"op":"run","line":"' + b"a" * 70_000, PROTOCOL),
    Attack("oversized, with newline", run_request("ps " + "a" * 70_000), PROTOCOL),
    Attack("invalid JSON", b"{this is not json\n", PROTOCOL),
    Attack("invalid UTF-8", b'{"v":1,"op":"\xff\xfe"}\n', PROTOCOL),
    Attack("JSON nested past the recursion limit", b"[" * 60_000 + b"\n", PROTOCOL),
    Attack("not an object", b"[1, 2, 3]\n", PROTOCOL),
    Attack("a wrong protocol version", json.dumps({"v": 2, "op": "status"}).encode() + b"\n", PROTOCOL),
    Attack("no protocol version", b'{"op":"status"}\n', PROTOCOL),
    Attack("an unknown op", request(op="exec", argv=["/bin/sh"]), PROTOCOL),
    Attack("an op that is a list (unhashable)", request(op=["approve"]), PROTOCOL),
    Attack("an op that is a mapping", request(op={"run": 1}), PROTOCOL),
    Attack("an op that is a number", request(op=7), PROTOCOL),
    Attack("no op at all", request(line="ps"), PROTOCOL),
    Attack("a cancel with nothing running", request(op="cancel"), PROTOCOL),
    Attack("a line that is not a string", request(op="run", line=["ps"], mode="c"), PROTOCOL),
    Attack("an unhashable mode", request(op="run", line="ps", mode=["c"]), PROTOCOL),
    Attack("an unknown mode", request(op="run", line="ps", mode="root"), PROTOCOL),
    Attack("a completion of something else than text", request(op="complete", text={"a": 1}), PROTOCOL),
    Attack("tty that is not a pair of booleans", request(op="run", line="ps", mode="c", tty="yes"), PROTOCOL),
    Attack("an integer too long to parse", b'{"v":1,"op":"status","n":' + b"9" * 60_000 + b"}\n", PROTOCOL),
    Attack("a line over the lexer's cap", run_request("ps " + "a" * 5000), 2),
    Attack("a second request riding on a status", request(op="status") + run_request("restart {rootonly}"), NO_END),
]


def crafted(agent: Agent, broker: Broker, payload: bytes, *, half: bool = False) -> list[dict[str, object]]:
    outcome = run_as(agent, CRAFTED_CLIENT, str(broker.socket), "half" if half else "full", stdin=payload)
    assert outcome.status == 0, outcome
    return [] if half else decode_replies(bytes.fromhex(outcome.stdout.strip()))


def still_serving(broker: Broker) -> None:
    outcome = replies_outcome(raw_exchange(broker.socket, {"v": 1, "op": "run", "line": "ps --json", "mode": "c"}))
    assert outcome.status == 0, outcome
    assert "containers" in outcome.json()


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.name for attack in ATTACKS])
def test_crafted_request(broker: Broker, agent: Agent, names: Names, attack: Attack) -> None:
    expected = attack.expected
    payload = attack.payload.replace(b"{rootonly}", names.name("rootonly").encode())
    payload = payload.replace(b"{hidden}", names.name("hidden").encode())
    replies = crafted(agent, broker, payload)
    outcome = replies_outcome(replies)
    assert outcome.status == (2 if expected == PROTOCOL else expected), (replies, broker.stderr()[-2000:])
    if expected == PROTOCOL:
        assert replies == [{"v": 1, "op": "end", "status": 2, "error": {"code": "protocol", "message": ANY}}]
    if expected == NO_END:
        assert [reply["op"] for reply in replies] == ["status"], replies
    if expected == 0:
        assert outcome.json()["user"] == agent.user
        assert outcome.json()["role"] == "agent"
    assert "secret-hidden-output" not in outcome.stdout + outcome.stderr
    still_serving(broker)


def test_a_half_written_message_then_a_disconnect(broker: Broker, agent: Agent) -> None:
    crafted(agent, broker, b'{"v": 1, "op": "run", "line": "restart ', half=True)
    still_serving(broker)
    assert "in the middle of a message" in broker.stderr() or "connection ended" in broker.stderr()


def test_no_traceback_in_the_brokers_log(broker: Broker) -> None:
    """Runs after the table: every malformed request cost one connection and one log line."""
    assert broker.process.poll() is None
    assert "Traceback" not in broker.stderr(), broker.stderr()


def test_silent_and_trickling_connections_are_dropped_and_block_nobody(broker: Broker, agent: Agent) -> None:
    """Idle sockets and a client that sends a byte at a time are cut off after the request timeout."""
    closed: dict[str, float] = {}
    started = time.monotonic()
    idle = [_connect(broker.socket) for _ in range(20)]
    threads = [threading.Thread(target=_wait_closed, args=(sock, f"idle{n}", closed)) for n, sock in enumerate(idle)]
    threads.append(threading.Thread(target=_trickle, args=(_connect(broker.socket), closed)))
    for thread in threads:
        thread.start()
    served = success(run_client(agent, broker.socket, "-c", "ps"))  # not blocked by the idle ones
    assert time.monotonic() - started < REQUEST_TIMEOUT / 2, served
    for thread in threads:
        thread.join(REQUEST_TIMEOUT + 10)
    assert set(closed) == {f"idle{n}" for n in range(20)} | {"trickle"}, closed
    for name, seconds in closed.items():
        assert REQUEST_TIMEOUT - 1 <= seconds <= REQUEST_TIMEOUT + 3, (name, seconds)
    still_serving(broker)


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(path))
    return sock


def _wait_closed(sock: socket.socket, name: str, closed: dict[str, float]) -> None:
    started = time.monotonic()
    sock.settimeout(REQUEST_TIMEOUT + 8)
    with sock:
        try:
            while sock.recv(4096):
                pass
        except OSError:
            return
        closed[name] = time.monotonic() - started


def _trickle(sock: socket.socket, closed: dict[str, float]) -> None:
    """One byte of a valid request every half second: never a whole message."""
    started = time.monotonic()
    sock.settimeout(0.5)
    with sock:
        while time.monotonic() - started < REQUEST_TIMEOUT + 8:
            try:
                if not sock.recv(4096):
                    break
            except TimeoutError:
                try:
                    sock.send(b" ")
                except OSError:
                    break
            except OSError:
                break
        else:
            return
        closed["trickle"] = time.monotonic() - started
