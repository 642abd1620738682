"""Slow peers: an ollama server that trickles its answers is cut at the call's total deadline, and a
cancel (Ctrl-C, an MCP cancel, the client gone) cuts the open connection at once; the bench lock
is free afterwards.

The trickling server sends a byte every 0.5 s: each of its answers would take two minutes or
more, and a socket timeout per read would never trip on it. The bounds below are generous; what
each test asserts is the outcome the user sees.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rshell.binding import bind
from rshell.errors import ExitStatus, Interrupted, VerbFailed
from rshell.events import Result
from rshell.ollama import OllamaClient, RequestCancelled, ServerTimeout
from rshell.ollama.running import PS_TIMEOUT_SECONDS
from rshell.verb import CancelSignal, Context
from tests.bench.helpers import bench_settings, make_context, run_verb
from tests.ollama_server import FakeModel, FakeOllama
from tests.support.shell import RSHELL, write_policy

if TYPE_CHECKING:  # mypy sees commands/ under its own name; at run time it is installed as rshell.commands
    from commands.vram import Vram
else:
    from rshell.commands.vram import Vram

TRICKLE = 0.5
#: every trickled call below must have ended well before this (the server would take minutes)
BOUND = 20.0
OPTIONS = {"num_predict": 8}


def trickling(*paths: str) -> FakeOllama:
    server = FakeOllama([FakeModel("llama3.2:1b")])
    server.trickle.update(dict.fromkeys(paths, TRICKLE))
    return server


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    try:
        return call(), time.monotonic() - started
    except Exception as error:  # the test looks at what was raised
        return error, time.monotonic() - started


CALLS: list[tuple[str, Callable[[OllamaClient], object]]] = [
    ("/api/version", lambda client: client.version()),
    ("/api/tags", lambda client: client.tags()),
    ("/api/ps", lambda client: client.running()),
    ("/api/show", lambda client: client.show("llama3.2:1b")),
    ("/api/generate", lambda client: list(client.generate_stream("llama3.2:1b", "hi", OPTIONS))),
]


@pytest.mark.parametrize(("path", "call"), CALLS, ids=[path for path, _call in CALLS])
def test_a_trickled_answer_is_cut_at_the_total_deadline(path: str, call: Callable[[OllamaClient], object]) -> None:
    with trickling(path) as server:
        outcome, took = timed(lambda: call(OllamaClient(server.url, timeout=1.0)))
    assert isinstance(outcome, ServerTimeout)
    assert str(outcome) == f"ollama at {server.url} did not answer {path} within 1s"
    assert took < BOUND


def vram_context(tmp_path: Path, url: str, cancel: CancelSignal | None = None) -> Context:
    ctx = make_context({"targets": {"gpu1": {"url": url}}}, tmp_path)
    ctx.settings = {"sysfs_root": str(tmp_path), "sources": ["amd"]}
    if cancel is not None:
        ctx.cancel = cancel
    return ctx


def run_vram(ctx: Context) -> Result:
    (result,) = list(Vram().run(ctx, bind("vram", Vram.spec, [])))
    assert isinstance(result, Result)
    return result


def test_vram_reports_a_trickling_target_as_a_problem_line_at_its_documented_bound(tmp_path: Path) -> None:
    with trickling("/api/ps") as server:
        result, took = timed(lambda: run_vram(vram_context(tmp_path, server.url)))
    assert isinstance(result, Result)
    assert result.data["models"] == []
    assert result.data["model_problems"] == [
        f"gpu1: ollama at {server.url} did not answer /api/ps within {PS_TIMEOUT_SECONDS:g}s"
    ]
    assert took < BOUND


def test_a_cancel_during_vram_cuts_the_request_instead_of_reporting_a_timeout(tmp_path: Path) -> None:
    cancel = CancelSignal()
    with trickling("/api/ps") as server:
        threading.Timer(0.3, cancel.set).start()
        result, took = timed(lambda: run_vram(vram_context(tmp_path, server.url, cancel)))
    assert isinstance(result, Result)
    assert result.data["model_problems"] == []  # cut by the cancel, not reported as a slow target
    assert took < BOUND


def test_a_trickled_warm_up_ends_the_bench_at_load_timeout_and_frees_the_lock(tmp_path: Path) -> None:
    with trickling("/api/generate") as server:
        settings = bench_settings(server.url, run_timeout="30s", load_timeout="1s", total_timeout="60s")
        ctx = make_context(settings, tmp_path)
        outcome, took = timed(lambda: run_verb(ctx, ["gpu1", "--test", "tg128", "--runs", "1"]))
        assert isinstance(outcome.error, VerbFailed)
        assert outcome.error.message == "bench gpu1: llama3.2:1b warm-up: no answer within load_timeout (1s)"
        assert took < BOUND
        server.trickle.clear()
        again = run_verb(ctx, ["gpu1", "--test", "tg128", "--runs", "1"])
    assert again.error is None, again.error
    assert again.data["status"] == "complete"


def test_total_timeout_cuts_a_trickle_that_each_run_alone_would_allow(tmp_path: Path) -> None:
    with trickling("/api/generate") as server:
        ctx = make_context(bench_settings(server.url, run_timeout="60s", total_timeout="2s"), tmp_path)
        outcome, took = timed(lambda: run_verb(ctx, ["gpu1", "--test", "tg128"]))
    assert isinstance(outcome.error, VerbFailed)
    assert outcome.error.message == "bench gpu1: llama3.2:1b warm-up: the bench exceeded total_timeout (2s)"
    assert took < BOUND


@pytest.mark.parametrize("path", ["/api/version", "/api/tags", "/api/show", "/api/ps"])
def test_a_trickled_metadata_call_fails_the_bench_in_one_line(tmp_path: Path, path: str) -> None:
    with trickling(path) as server:
        ctx = make_context(bench_settings(server.url, run_timeout="1s"), tmp_path)
        outcome, took = timed(lambda: run_verb(ctx, ["gpu1", "--test", "tg128"]))
    assert isinstance(outcome.error, VerbFailed)
    assert outcome.error.message.startswith("bench gpu1: ")
    assert outcome.error.message.endswith(f"did not answer {path} within 1s")
    assert took < BOUND


def test_a_cancel_cuts_a_trickled_stream_and_the_server_sees_the_connection_close(tmp_path: Path) -> None:
    with trickling("/api/generate") as server:
        ctx = make_context(bench_settings(server.url, run_timeout="60s"), tmp_path)
        ctx.cancel = CancelSignal()
        threading.Timer(0.5, ctx.cancel.set).start()
        outcome, took = timed(lambda: run_verb(ctx, ["gpu1", "--test", "tg128"]))
        assert wait_until(lambda: server.disconnects > 0)
    assert isinstance(outcome.error, Interrupted)
    assert outcome.error.message == "bench gpu1: cancelled"
    assert took < BOUND


def test_a_cancelled_client_refuses_its_next_call_without_connecting() -> None:
    cancel = CancelSignal()
    cancel.set()
    with FakeOllama([]) as server:
        with pytest.raises(RequestCancelled):
            OllamaClient(server.url, cancel=cancel).version()
        assert server.requests == []


def wait_until(condition: Callable[[], bool], bound: float = BOUND) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


BENCH_POLICY = """\
principals:
  users:
    root: bencher
roles:
  bencher:
    verbs: [bench]
    settings:
      bench:
        targets:
          gpu1: {{url: "{url}", models: [llama3.2:1b], run_timeout: 60s, total_timeout: 120s}}
"""


def test_sigint_stops_a_real_bench_process_waiting_on_a_trickle_and_frees_the_lock(tmp_path: Path) -> None:
    with trickling("/api/generate") as server:
        policy = write_policy(tmp_path / "etc", BENCH_POLICY.format(url=server.url))
        command = [*RSHELL, "--policy", str(policy), "-c", "bench gpu1 --test tg128 --runs 1"]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert wait_until(lambda: any(request.path == "/api/generate" for request in server.requests))
            os.kill(process.pid, signal.SIGINT)
            _stdout, stderr = process.communicate(timeout=BOUND)
        finally:
            process.kill()
            process.wait()
        assert wait_until(lambda: server.disconnects > 0)
        server.trickle.clear()
        again = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert process.returncode == ExitStatus.INTERRUPTED, stderr
    assert "Traceback" not in stderr.decode()
    assert stderr.decode().splitlines()[-1] == "rshell: bench gpu1: interrupted"
    assert again.returncode == 0, again.stderr


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose listen queue is full: a connect to it waits, as to a host that is down."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        queued = [socket.socket() for _ in range(4)]
        for sock in queued:
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
        try:
            yield port
        finally:
            for sock in queued:
                sock.close()


def test_a_cancel_ends_a_connect_that_is_still_waiting(unanswered_port: int) -> None:
    cancel = CancelSignal()
    threading.Timer(0.3, cancel.set).start()
    client = OllamaClient(f"http://127.0.0.1:{unanswered_port}", timeout=60.0, cancel=cancel)
    outcome, took = timed(client.version)
    assert isinstance(outcome, RequestCancelled)
    assert took < BOUND


def test_a_connect_that_never_completes_ends_at_the_deadline(unanswered_port: int) -> None:
    outcome, took = timed(OllamaClient(f"http://127.0.0.1:{unanswered_port}", timeout=1.0).version)
    assert isinstance(outcome, ServerTimeout)
    assert str(outcome) == f"ollama at http://127.0.0.1:{unanswered_port} did not answer /api/version within 1s"
    assert took < BOUND


def test_a_trickled_tls_handshake_is_cut_at_the_deadline() -> None:
    """A TLS record header that announces 16 KiB, then a byte every 0.5 s: the handshake never ends."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        threading.Thread(target=_trickle_tls, args=(listener,), daemon=True).start()
        url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        outcome, took = timed(OllamaClient(url, timeout=1.0).version)
    assert isinstance(outcome, ServerTimeout)
    assert str(outcome) == f"ollama at {url} did not answer /api/version within 1s"
    assert took < BOUND


def _trickle_tls(listener: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn, _address = listener.accept()
        with conn:
            conn.recv(65536)  # the client's hello
            for byte in b"\x16\x03\x03\x40\x00" + b"\x00" * 480:
                time.sleep(TRICKLE)
                conn.sendall(bytes([byte]))


def test_a_generate_call_gets_its_own_deadline_not_the_metadata_timeout() -> None:
    """The bench's run_timeout, not the short metadata bound, is what a generation may take."""
    with FakeOllama([FakeModel("llama3.2:1b", first_token_delay=1.0)]) as server:
        client = OllamaClient(server.url, timeout=0.3, deadline=time.monotonic() + 30)
        chunks = list(client.generate_stream("llama3.2:1b", "hi", OPTIONS, deadline=time.monotonic() + 15))
    assert chunks[-1]["done"] is True
