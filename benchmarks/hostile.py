"""A hostile neighbour: one user floods the broker while another runs ``ps``; the honest user's latency
next to a quiet baseline from the same run, and the broker's peak RSS, threads and descriptors.

    .venv/bin/python benchmarks/hostile.py [--runs 200] [--idle 400] [--followers 64] [--busy-sessions 4]
                                              [--slow-ollama 4] [--impatient] [--installed] [--no-slices]

The flood, as an unprivileged account (benchmarks.common.agent_account): ``--idle`` connections that
never send a request (each reopened when the broker drops it), ``--followers`` threads that each keep
asking for ``logs --follow`` (the ones past the caps are refused and ask again at once; with
``--impatient`` they do not even wait for the answer), and, when the
broker has the MCP SDK, an MCP session that sends a 16 MiB line, one that pipelines 2,000 follows and
``--busy-sessions`` that each keep 8 ``ps`` calls in flight, and ``--slow-ollama`` loops asking
``vram`` and ``bench`` of an ollama (tests/ollama_server.py) that sends its ``/api/ps`` and
``/api/generate`` answers a byte every 0.5 s (one bench holds the target's lock, the others are
told it is busy). By default the broker, the honest user
and the agent each run in a CPU group of their own, as systemd places them (benchmarks/slices.py).
The honest user is root, running
``rshell --broker SOCK -c ps`` ``--runs`` times in a row, once quiet and once under the flood.
The broker runs with its default caps (rshelld's flags; README, "Broker caps").
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from rshell.defaults import lane_path
from rshell.frames import END, frames_of, run_request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    IMAGE,
    ROOT,
    agent_account,
    bench_venv,
    broker,
    engine,
    ensure_image,
    percentile,
    rss_kb,
    write_policy,
)
from benchmarks.slices import Slices, slices
from tests.ollama_server import FakeModel, FakeOllama

PREFIX = f"rsh{os.getpid()}"
#: the slow ollama of the flood: its /api/ps and /api/generate answers come a byte every this many seconds
TRICKLE_SECONDS = 0.5
MODEL = "llama3.2:1b"
#: run as the agent for the CPU-only baseline: a busy loop, nothing asked of the broker
BURN = "while True: pass"
#: run as the flooding user: idle connections, follow loops and one huge MCP line, until stdin closes
FLOOD = """
import json, os, socket, sys, threading, time
path, idle, followers, container, busy = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
impatient, slow, through_lane = sys.argv[6] == "impatient", int(sys.argv[7]), sys.argv[8] == "lane"
stop = threading.Event()
counts = {"idle_reopened": 0, "follow_requests": 0, "busy_mcp_answers": 0, "slow_ollama_answers": 0}

lane = f"{path}.lanes/{os.getuid()}"

def connect():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(lane if through_lane and os.path.exists(lane) else path)
    return sock

def read_until_closed(sock):  # True: the broker closed the connection before the flood was told to stop
    while not stop.is_set():
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            continue
    return False

def hold_idle():
    while not stop.is_set():
        try:
            sock = connect()
            sock.settimeout(1.0)
            read_until_closed(sock)
            sock.close()
            counts["idle_reopened"] += 1
        except OSError:
            time.sleep(0.05)

def follow():
    request = json.dumps({"v": 1, "op": "run", "line": f"logs {container} --follow", "mode": "c"}).encode() + b"\\n"
    while not stop.is_set():
        try:
            sock = connect()
            sock.settimeout(1.0)
            sock.sendall(request)
            counts["follow_requests"] += 1
            if impatient:  # never waits for an answer: closes and connects again at once
                sock.close()
                continue
            read_until_closed(sock)
            sock.close()
        except OSError:
            time.sleep(0.05)

def ask_slow_ollama(index):  # vram and bench against a target that answers a byte every 0.5 s
    lines = ["vram", "bench gpu1 --test tg128 --runs 1"]
    while not stop.is_set():
        line = lines[index % 2]
        request = json.dumps({"v": 1, "op": "run", "line": line, "mode": "c"}).encode() + b"\\n"
        try:
            sock = connect()
            sock.settimeout(1.0)
            sock.sendall(request)
            if read_until_closed(sock):
                counts["slow_ollama_answers"] += 1
            sock.close()
        except OSError:
            time.sleep(0.05)

INITIALIZE = [
    {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
     "capabilities": {}, "clientInfo": {"name": "flood", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
]

def mcp_session():
    sock = connect()
    sock.sendall(b'{"v": 1, "op": "mcp"}\\n')
    answer = sock.recv(65536)
    if b'"mcp"' not in answer:
        raise OSError("refused: " + answer[:160].decode(errors="replace"))
    sock.sendall(b"".join(json.dumps(message).encode() + b"\\n" for message in INITIALIZE))
    return sock

def huge_mcp_line():
    try:
        sock = mcp_session()
        sock.settimeout(5)
        sent = 0
        try:
            while sent < 16 << 20 and not stop.is_set():
                sent += sock.send(b"x" * 65536)
        except OSError as error:
            counts["mcp_huge_line"] = f"cut off after {sent >> 20} MiB ({type(error).__name__})"
            return
        counts["mcp_huge_line"] = f"sent {sent >> 20} MiB"
    except OSError as error:
        counts["mcp_huge_line"] = f"failed: {error}"

def pipelined_follows(calls=2000):
    try:
        sock = mcp_session()
        arguments = {"container": container, "follow": True}
        batch = b"".join(
            json.dumps({"jsonrpc": "2.0", "id": index, "method": "tools/call",
                        "params": {"name": "logs", "arguments": arguments}}).encode() + b"\\n"
            for index in range(1, calls + 1)
        )
        sock.settimeout(5)
        sock.sendall(batch)
        received = b""
        while not stop.is_set():
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            received += chunk[:1 << 20]
        counts["mcp_follows"] = f"{calls} calls sent; {received.count(b'isError')} answers seen"
    except OSError as error:
        counts["mcp_follows"] = f"failed: {error}"

def busy_mcp():  # an MCP session keeping its 8 calls in flight (settings.mcp.max_calls): one answered, one sent
    try:
        sock = mcp_session()
        lines = sock.makefile("rb")
        lines.readline()  # the initialize result
        sent = 0

        def call():
            nonlocal sent
            sent += 1
            message = {"jsonrpc": "2.0", "id": sent, "method": "tools/call", "params": {"name": "ps", "arguments": {}}}
            sock.sendall(json.dumps(message).encode() + b"\\n")

        for _ in range(8):
            call()
        while not stop.is_set():
            line = lines.readline()
            if not line:
                return
            if b'"result"' in line or b'"error"' in line:
                counts["busy_mcp_answers"] += 1
                call()
    except OSError:
        return

first = [threading.Thread(target=huge_mcp_line, daemon=True), threading.Thread(target=pipelined_follows, daemon=True)]
first += [threading.Thread(target=busy_mcp, daemon=True) for _ in range(busy)]
first += [threading.Thread(target=ask_slow_ollama, args=(index,), daemon=True) for index in range(slow)]
for thread in first:  # the MCP sessions and the slow-ollama loops first, before the flood takes every connection
    thread.start()
time.sleep(1)
for _ in range(idle):
    threading.Thread(target=hold_idle, daemon=True).start()
for _ in range(followers):
    threading.Thread(target=follow, daemon=True).start()
print("flooding", flush=True)
sys.stdin.read()
stop.set()
print(json.dumps(counts), flush=True)
"""


class Sampler:
    """The broker's peak RSS, threads and descriptors, read from /proc every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = {"rss_mib": 0.0, "threads": 0, "descriptors": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                now = {
                    "rss_mib": round(rss_kb(self.pid) / 1024, 1),
                    "threads": len(os.listdir(f"/proc/{self.pid}/task")),
                    "descriptors": len(os.listdir(f"/proc/{self.pid}/fd")),
                }
            except OSError:
                return
            self.peak = {key: max(self.peak[key], value) for key, value in now.items()}


def honest_ps(python: Path, sock: Path, runs: int) -> dict[str, Any]:
    """``rshell -c ps`` as a process (what ``ssh host -- ps`` costs past sshd), alternating with the
    same request on a socket of this process (the broker's own share of it)."""
    command = [str(python), "-I", "-m", "rshell.cli", "--broker", str(sock), "-c", "ps"]
    client, raw, failures = [], [], 0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        client.append(time.perf_counter() - started)
        failures += done.returncode != 0
        started = time.perf_counter()
        failures += raw_ps(sock) != 0
        raw.append(time.perf_counter() - started)
    return {
        "client_p50_ms": round(percentile(client, 0.5) * 1000, 1),
        "client_p99_ms": round(percentile(client, 0.99) * 1000, 1),
        "raw_p50_ms": round(percentile(raw, 0.5) * 1000, 1),
        "raw_p99_ms": round(percentile(raw, 0.99) * 1000, 1),
        "failures": failures,
    }


def raw_ps(sock: Path) -> int:
    """One ``ps`` request on the broker's socket; its exit status (-1 when no end frame came)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        # as rshell's client connects: blocking, so a full queue is waited for (rshell.client._connect)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 30, 0))
        lane = lane_path(str(sock), os.getuid())  # as the client does: its own lane first (rshell.broker.lanes)
        conn.connect(lane if os.path.exists(lane) else str(sock))
        conn.settimeout(30)
        conn.sendall(run_request("ps", "c", (False, False)))
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    ends = [payload for kind, payload in frames_of(data) if kind == END]
    return int(ends[0]) if ends else -1


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(options: argparse.Namespace) -> dict[str, Any]:
    client = engine()
    ensure_image(client)
    venv = bench_venv() if options.installed else ROOT / ".venv"
    work = Path(tempfile.mkdtemp(prefix="rshell-hostile-"))
    work.chmod(0o755)
    name = f"{PREFIX}-quiet"
    container = client.containers.run(IMAGE, ["sh", "-c", "echo ready; sleep 3600"], name=name, detach=True)
    try:
        with (
            agent_account() as (agent, _launcher_dir),
            slices(options.slices) as tree,
            FakeOllama([FakeModel(MODEL)]) as ollama,
        ):
            ollama.trickle.update(dict.fromkeys(("/api/ps", "/api/generate"), TRICKLE_SECONDS))
            policy = write_policy(work / "policy", [name], agent=agent)
            document = yaml.safe_load(policy.read_text())
            role = document["roles"]["bench"]
            role["verbs"] += ["mcp", "vram", "bench"]
            # the timeouts of the finding ("bench with run_timeout: 10s, total_timeout: 60s")
            target = {"url": ollama.url, "models": [MODEL], "run_timeout": "10s", "total_timeout": "60s"}
            role["settings"]["bench"] = {"targets": {"gpu1": target}}
            policy.write_text(yaml.safe_dump(document, sort_keys=False))
            prefix = ["nice", "-n", str(options.broker_nice)] if options.broker_nice else []
            with broker(venv, policy, agent, prefix=prefix) as (sock, process):
                if tree is not None:  # as systemd would: the unit in system.slice, each user in a slice of its own
                    tree.place("system.slice/rshelld.service", process.pid)
                    tree.place("user.slice/user-honest.slice", os.getpid())
                results = measure(
                    options, venv / "bin" / "python", sock=sock, process=process, agent=agent, container=name, tree=tree
                )
                results["broker_log_lines"] = len(
                    (sock.parent / "rshelld.log").read_text(errors="replace").splitlines()
                )
    finally:
        container.remove(force=True)
    results["slices"] = "systemd-like CPU slices (benchmarks/slices.py)" if tree is not None else "no CPU slices"
    return results


def measure(
    options: argparse.Namespace,
    python: Path,
    *,
    sock: Path,
    process: subprocess.Popen[bytes],
    agent: str,
    container: str,
    tree: Slices | None,
) -> dict[str, Any]:
    """The honest user's ``ps``, quiet, while the agent only burns CPU (the share the scheduler leaves
    the honest user, whatever the broker does), and under the agent's flood; the broker's peaks meanwhile."""
    honest_ps(python, sock, 5)  # warm-up: the engine client, the caches
    idle_before = rss_kb(process.pid) / 1024
    quiet = honest_ps(python, sock, options.runs)
    as_agent = ["setpriv", f"--reuid={agent}", f"--regid={agent}", "--init-groups", "--"]
    burners = [
        subprocess.Popen([*as_agent, str(python), "-I", "-c", BURN], cwd="/") for _ in range(os.cpu_count() or 2)
    ]
    for burner in burners:
        if tree is not None:
            tree.place("user.slice/user-agent.slice", burner.pid)
    busy = honest_ps(python, sock, options.runs)
    for burner in burners:
        burner.kill()
        burner.wait()
    attack = [*as_agent, str(python), "-I", "-c", FLOOD, str(sock), str(options.idle)]
    attack += [str(options.followers), container, str(options.busy_sessions)]
    attack += ["impatient" if options.impatient else "patient", str(options.slow_ollama)]
    attack.append("lane" if options.through_lane else "shared")
    flooder = subprocess.Popen(attack, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/")
    assert flooder.stdin is not None
    assert flooder.stdout is not None
    if tree is not None:
        tree.place("user.slice/user-agent.slice", flooder.pid)
    assert flooder.stdout.readline().strip() == "flooding"
    time.sleep(3)  # let the flood reach the caps
    cpu_before, flood_started = cpu_seconds(process.pid), time.monotonic()
    attacker_before = cpu_seconds(flooder.pid)
    with Sampler(process.pid) as sampler:
        flooded = honest_ps(python, sock, options.runs)
    elapsed = time.monotonic() - flood_started
    broker_cpu = (cpu_seconds(process.pid) - cpu_before) / elapsed
    attacker_cpu = (cpu_seconds(flooder.pid) - attacker_before) / elapsed
    flooder.stdin.close()
    attacker = flooder.stdout.readline().strip()
    flooder.wait(timeout=30)
    stopped = time.monotonic()
    process.terminate()
    process.wait(timeout=30)
    return {
        "quiet": quiet,
        "agent burning CPU": busy,
        "flooded": flooded,
        "broker_idle_rss_mib": round(idle_before, 1),
        "broker_peak": sampler.peak,
        "broker_cpu_percent": round(broker_cpu * 100),
        "attacker_cpu_percent": round(attacker_cpu * 100),
        "attacker": attacker,
        "sigterm_to_exit_s": round(time.monotonic() - stopped, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--idle", type=int, default=400)
    parser.add_argument("--followers", type=int, default=64)
    parser.add_argument("--busy-sessions", type=int, default=4, help="MCP sessions keeping 8 ps calls in flight")
    parser.add_argument(
        "--slow-ollama", type=int, default=4, help="loops asking vram and bench of an ollama that trickles its answers"
    )
    parser.add_argument(
        "--impatient", action="store_true", help="the follow loops close without waiting for an answer and reconnect"
    )
    parser.add_argument(
        "--through-lane",
        action="store_true",
        help="the flood connects through the agent's own lane (rshell.broker.lanes), not the shared socket",
    )
    parser.add_argument("--broker-nice", type=int, default=0, help="run rshelld at this nice value (the unit's Nice=)")
    parser.add_argument("--installed", action="store_true", help="rshell installed normally in a bench venv")
    parser.add_argument(
        "--no-slices",
        dest="slices",
        action="store_false",
        help="leave every process in one CPU group (default: systemd-like slices where the cpu controller allows)",
    )
    results = run(parser.parse_args())
    print("| honest user's `ps` | client p50 | client p99 | broker round trip p50 | p99 | failures |")
    print("|---|---|---|---|---|---|")
    for label in ("quiet", "agent burning CPU", "flooded"):
        row = results[label]
        print(
            f"| {label} | {row['client_p50_ms']} ms | {row['client_p99_ms']} ms | {row['raw_p50_ms']} ms"
            f" | {row['raw_p99_ms']} ms | {row['failures']} |"
        )
    quiet, flooded = results["quiet"], results["flooded"]
    print(
        f"p99 flooded/quiet: client {flooded['client_p99_ms'] / quiet['client_p99_ms']:.2f},"
        f" broker round trip {flooded['raw_p99_ms'] / quiet['raw_p99_ms']:.2f}"
    )
    peak = results["broker_peak"]
    print(
        f"broker: idle RSS {results['broker_idle_rss_mib']} MiB; under the flood {results['broker_cpu_percent']} % CPU"
        f" (the flooding process {results['attacker_cpu_percent']} %),"
        f" peak RSS {peak['rss_mib']} MiB,"
        f" {peak['threads']} threads, {peak['descriptors']} descriptors; SIGTERM to exit {results['sigterm_to_exit_s']} s"
    )
    print(f"attacker: {results['attacker']}; the broker's log: {results['broker_log_lines']} lines")
    print(f"scheduling: {results['slices']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
