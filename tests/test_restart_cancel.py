"""Ctrl-C ends a restart that is waiting for the engine: a container that ignores SIGTERM makes
dockerd wait the whole stop_timeout (30 s here), and SIGINT still ends ``rshell -c`` with 130 at
once, with the ``done`` record written. The engine wait itself has a total deadline."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rshell.engine.deadline import bounded_call
from rshell.errors import ExitStatus, Interrupted, VerbFailed
from tests.support.engine import EngineContainers
from tests.support.shell import RSHELL, audit_records, write_policy

#: PID 1 without a TERM handler ignores SIGTERM: only the engine's SIGKILL after stop_timeout ends it
DEAF = "trap '' TERM; while true; do sleep 0.1; done"
POLICY = """\
principals:
  users:
    root: operator
roles:
  operator:
    verbs: [restart]
    containers:
      labels:
        - rshell.deaf: "{prefix}"
    settings:
      restart: {{stop_timeout: 30s, max_timeout: 60s}}
"""
#: far below the 30 s the engine would take: the interrupt did not wait for it
BOUND = 10.0


@pytest.fixture
def deaf(containers: EngineContainers) -> Any:
    return containers.run(f"deaf{time.monotonic_ns()}", DEAF, labels={"rshell.deaf": containers.prefix})


def test_ctrl_c_ends_a_restart_waiting_on_a_slow_stop_with_130_and_a_done_record(
    policy_dir: Path, containers: EngineContainers, deaf: Any
) -> None:
    path = write_policy(policy_dir, POLICY.format(prefix=containers.prefix))
    command = [*RSHELL, "--policy", str(path), "-c", f"restart {deaf.name}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    try:
        assert process.stderr is not None
        assert process.stderr.readline() == f"restarting {deaf.name} ...\n".encode()
        time.sleep(0.5)  # the restart request is with the engine now
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=BOUND)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert process.returncode == ExitStatus.INTERRUPTED, stderr
    assert stderr == b"rshell: interrupted\n"
    intent, done = audit_records(policy_dir)
    assert (intent["phase"], done["phase"], done["exit_code"]) == ("intent", "done", 130)
    assert done["action"] == intent["action"]


def test_an_engine_wait_ends_at_its_deadline_or_at_a_cancel() -> None:
    release = threading.Event()
    with pytest.raises(VerbFailed, match=r"^restart x: the engine did not answer within 0.3s$"):
        bounded_call(lambda: release.wait(30), seconds=0.3, cancel=threading.Event(), what="restart x")
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(Interrupted, match=r"^restart x cancelled while waiting for the engine$"):
        bounded_call(lambda: release.wait(30), seconds=30, cancel=cancel, what="restart x")
    release.set()
    with pytest.raises(ValueError, match="invalid literal"):  # the call's own error reaches the caller
        bounded_call(lambda: int("x"), seconds=5, cancel=threading.Event(), what="x")
    assert bounded_call(lambda: 42, seconds=5, cancel=threading.Event(), what="x") == 42
