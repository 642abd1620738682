"""The broker's caps against a real flood from the real unprivileged agent: connections per uid and
log streams are refused in one line each, another user keeps being served, and SIGTERM still stops it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rshell.broker.refusals import CAP_REFUSAL_DELAY
from tests.broker.conftest import POLICY, Names, own_broker
from tests.broker.harness import PYTHON, Agent, Broker, run_as, run_client, settled_threads, wait_for
from tests.support.checks import refusal, success
from tests.support.shell import audit_records

#: as the agent: open COUNT connections that each run LINE, and classify each one's first answer:
#: "streaming" (output came), "refused" (a JSON line: admission), or "denied" (the verb's own 126);
#: print the counts and the messages as one JSON line, then hold every connection until stdin closes
FLOOD = """
import json, socket, sys
from rshell.frames import END, JSON_LINE, STDERR, STDOUT, frames_of
path, count, line = sys.argv[1], int(sys.argv[2]), sys.argv[3]
request = json.dumps({"v": 1, "op": "run", "line": line, "mode": "c"}).encode() + b"\\n"
held, counts, messages = [], {"streaming": 0, "refused": 0, "denied": 0, "other": 0}, set()

def first_answer(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return "other", data[:200].decode(errors="replace")
        data += chunk
        if data.startswith(b"{"):
            if b"\\n" in data:
                return "refused", json.loads(data.split(b"\\n")[0])["error"]["message"]
            continue
        try:
            frames = frames_of(data)
        except Exception:
            continue
        kinds = [kind for kind, _ in frames]
        if STDOUT in kinds:
            return "streaming", ""
        if END in kinds:
            text = b"".join(payload for kind, payload in frames if kind == STDERR).decode()
            return "denied", text.strip()

for _ in range(count):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(path)
    sock.sendall(request)
    held.append(sock)
for sock in held:
    kind, message = first_answer(sock)
    counts[kind] += 1
    if message:
        messages.add(message)
print(json.dumps({"counts": counts, "messages": sorted(messages)}), flush=True)
sys.stdin.read()
"""


@dataclass
class Flood:
    counts: dict[str, int]
    messages: list[str]


@contextmanager
def flood(agent: Agent, broker: Broker, count: int, line: str) -> Iterator[Flood]:
    """COUNT connections from the agent running LINE, held open for the body of the ``with``."""
    command = [*agent.prefix(), *PYTHON, "-c", FLOOD, str(broker.socket), str(count), line]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        summary = process.stdout.readline()
        assert summary, process.stderr.read().decode() if process.stderr else ""
        document: dict[str, Any] = json.loads(summary)
        yield Flood(document["counts"], document["messages"])
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def descriptors(broker: Broker) -> int:
    return len(os.listdir(f"/proc/{broker.pid}/fd"))


def open_files(broker: Broker) -> str:
    """What the broker's descriptors are, for a failure message: each kind with its count."""
    links = [os.readlink(f"/proc/{broker.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{broker.pid}/fd")]
    return str(Counter(link.split("[")[0] for link in links))


CONNECTION_CAP = ("--max-connections-per-uid", "8", "--max-threads", "64")
FOLLOW_CAPS = ("--max-follows", "10", "--max-follows-per-uid", "4", "--engine-connections", "14")


def test_200_connections_from_one_uid_get_8_and_another_user_is_still_served(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    etc = tmp_path / "etc"
    with own_broker(agent, names, socket_dir, etc, body=POLICY, name="conncap", options=CONNECTION_CAP) as broker:
        quiet = names.name("quiet")
        with flood(agent, broker, 200, f"logs {quiet} --follow") as held:
            assert held.counts == {"streaming": 8, "refused": 192, "denied": 0, "other": 0}, held
            assert all("--max-connections-per-uid" in message for message in held.messages), held.messages
            assert names.name("app") in success(run_client(None, broker.socket, "-c", "ps")).stdout
            started = time.monotonic()
            refusal(run_client(agent, broker.socket, "-c", "ps"), 126, "too many connections to the broker")
            # the refusal comes after CAP_REFUSAL_DELAY: a client that asks again at once is slowed to
            # one attempt per delay per connection, not an accept and a refusal as fast as it loops
            assert time.monotonic() - started >= CAP_REFUSAL_DELAY - 0.05
            assert broker.threads() <= 64
        assert names.name("app") in success(run_client(agent, broker.socket, "-c", "ps")).stdout
        assert wait_for(lambda: "connection(s) refused" in broker.stderr(), 10), broker.stderr()
        log = broker.stderr()
    assert log.count(f"refusing a connection of uid {agent.uid}") == 1, log  # once per burst, not 193 times
    refused = [record for record in audit_records(etc) if record.get("line") == "(connection)"]
    assert {record["user"] for record in refused} == {agent.user}, refused
    assert all(record["exit_code"] == 126 for record in refused)
    assert 1 <= len(refused) <= 4, refused


def test_follows_are_capped_per_uid_and_in_all_and_short_calls_still_find_an_engine_connection(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    etc = tmp_path / "etc"
    with own_broker(agent, names, socket_dir, etc, body=POLICY, name="followcap", options=FOLLOW_CAPS) as broker:
        idle_threads, idle_descriptors = settled_threads(broker), descriptors(broker)
        with flood(agent, broker, 60, f"logs {names.name('quiet')} --follow") as held:
            assert held.counts == {"streaming": 4, "refused": 0, "denied": 56, "other": 0}, held
            assert held.messages == ["rshell: you have 4 log streams open (--max-follows-per-uid); end one first"]
            # past the cap a follow is refused before any engine call: a hidden or a nonexistent name
            # gets the very same line (no lookup, so nothing to tell them apart by)
            for name in (names.name("hidden"), "no-such-container"):
                refused = run_client(agent, broker.socket, "-c", f"logs {name} --follow")
                assert (refused.status, refused.stderr.strip()) == (126, held.messages[0]), refused
            assert names.name("app") in success(run_client(None, broker.socket, "-c", "ps")).stdout
            assert "tick" in success(run_client(None, broker.socket, "-c", f"logs {names.name('app')}")).stdout
            # each stream: its thread and its policy re-check (authority.streamwatch); the cancel watcher
            # and the turns' timer (rshell.broker.turns: started once calls first had to wait)
            assert settled_threads(broker) <= idle_threads + 2 * 4 + 2, broker.threads()
            # the streams' client connections, the engine pool (at most 14, kept alive) and the audit log
            assert descriptors(broker) <= idle_descriptors + 4 + 14 + 1, open_files(broker)
        # back to idle, but for the cancel watcher (started with the first run) and the turns' timer
        assert wait_for(lambda: settled_threads(broker) <= idle_threads + 2, 10), broker.threads()
        assert names.name("app") in success(run_client(agent, broker.socket, "-c", "ps")).stdout


def test_sigterm_stops_a_broker_that_is_still_serving_a_flood(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    etc = tmp_path / "etc"
    with own_broker(agent, names, socket_dir, etc, body=POLICY, name="termflood", options=CONNECTION_CAP) as broker:
        with flood(agent, broker, 100, f"logs {names.name('quiet')} --follow") as held:
            assert held.counts["streaming"] == 8, held
            broker.process.send_signal(signal.SIGTERM)
            assert broker.process.wait(timeout=5) == 0, broker.stderr()
        assert not broker.socket.exists()


#: as the agent: COUNT status requests one after another; how many were answered and how many refused
SEQUENTIAL_STATUS = """
import json, socket, sys
path, count = sys.argv[1], int(sys.argv[2])
answers = {}
for _ in range(count):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(path)
        sock.sendall(b'{"v": 1, "op": "status"}\\n')
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    reply = json.loads(data.split(b"\\n")[0])
    key = reply["op"] if reply["op"] == "status" else reply["error"]["message"]
    answers[key] = answers.get(key, 0) + 1
print(json.dumps(answers))
"""


def test_new_connections_of_one_uid_past_its_rate_wait_their_turn_and_are_all_served(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    options = ("--max-connections-per-uid", "10", "--connection-rate-per-uid", "5", "--max-threads", "64")
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=POLICY, name="ratecap", options=options) as broker:
        done = run_as(agent, SEQUENTIAL_STATUS, str(broker.socket), "30", timeout=120)
        assert done.status == 0, done.stderr
        assert json.loads(done.stdout) == {"status": 30}  # paced, never refused
        assert names.name("app") in success(run_client(None, broker.socket, "-c", "ps")).stdout
        assert wait_for(lambda: "connection(s) paced" in broker.stderr(), 10), broker.stderr()
        log = broker.stderr()
    assert log.count(f"pacing a connection of uid {agent.uid} (over 5 new connections per second") == 1, log


def test_usage_errors_for_each_cap_flag() -> None:
    rows = [
        (("--max-threads", "0"), "--max-threads takes a whole number"),
        (("--max-connections-per-uid", "many"), "--max-connections-per-uid takes a whole number"),
        (("--max-follows", "64", "--engine-connections", "64"), "--max-follows must be below --engine-connections"),
        (("--max-connections-per-uid", "300", "--max-threads", "300"), "per-uid caps must be below"),
        (("--engine-connections",), "unknown option '--engine-connections'"),
    ]
    for options, fragment in rows:
        done = subprocess.run(
            [*PYTHON, "-m", "rshell.broker.server", *options], capture_output=True, text=True, check=False
        )
        assert done.returncode == 2, (options, done.stderr)
        assert fragment in done.stderr, (options, done.stderr)
        assert "Traceback" not in done.stderr


def test_a_lookup_out_of_descriptors_cannot_identify_the_caller_rather_than_finding_no_role() -> None:
    script = (
        "import os, resource\n"
        "from rshell.errors import RshellError\n"
        "from rshell.policy.view import Principal\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))\n"
        "held = []\n"
        "try:\n"
        "    while True: held.append(os.open('/dev/null', os.O_RDONLY))\n"
        "except OSError: pass\n"
        "try:\n"
        "    print('principal', Principal.from_uid(0, 0))\n"
        "except RshellError as error:\n"
        "    print(error.status, error.message)\n"
    )
    done = subprocess.run([*PYTHON, "-c", script], capture_output=True, text=True, check=False, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 cannot identify the caller (/etc/passwd: Too many open files)"), done.stdout


def test_bytes_after_a_run_request_cancel_it_and_cost_the_broker_no_memory(broker: Broker, agent: Agent) -> None:
    """Only a cancel may follow a run request: 8 MiB more cancels the verb, and the broker reads none of it."""
    script = (
        "import socket, sys\n"
        "sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "sock.settimeout(20)\n"
        "sock.connect(sys.argv[1])\n"
        'sock.sendall(b\'{"v": 1, "op": "run", "line": "ps", "mode": "c"}\\n\')\n'
        "try:\n"
        "    sock.sendall(b'x' * (8 << 20))\n"
        "except OSError as error:\n"
        "    print('send stopped:', type(error).__name__)\n"
    )
    before = _rss_kb(broker.pid)
    command = [*agent.prefix(), *PYTHON, "-c", script, str(broker.socket)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    assert _rss_kb(broker.pid) < before + 4096
    assert success(run_client(agent, broker.socket, "-c", "ps"))


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
