"""A signal the kernel hands to any thread of rshelld reaches it: an idle broker blocked waiting for
connections still stops on SIGTERM and reloads on SIGHUP when the signal lands on a thread other
than the main one (the kernel may pick any thread that does not block it; CPython runs handlers
only in the main thread, so a blocking accept there would never notice: rshell.broker.acceptor
waits on the listening socket and the signal wakeup descriptor together)."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path

from tests.broker.conftest import Names, agent_role, own_broker
from tests.broker.harness import Agent, run_client, wait_for
from tests.support.checks import success

SYS_TGKILL = 234  # x86_64 (asm/unistd_64.h); tgkill(2) sends a signal to one thread of a process
BODY = agent_role("ps")


def to_other_thread(pid: int, signum: int) -> int:
    """Send ``signum`` to a thread of ``pid`` that is not its main thread; that thread's id."""
    others = sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)
    assert others, "the broker has no thread besides its main one"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(SYS_TGKILL, pid, others[0], signum) == 0, os.strerror(ctypes.get_errno())
    return others[0]


def test_sigterm_on_another_thread_stops_an_idle_broker(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=BODY, name="sigthread") as broker:
        success(run_client(agent, broker.socket, "-c", "ps"))
        time.sleep(0.3)  # idle: the main thread waits for a connection
        to_other_thread(broker.pid, signal.SIGTERM)
        assert wait_for(lambda: broker.process.poll() is not None, 5), "SIGTERM on a worker thread was not noticed"
        assert broker.process.returncode == 0
        assert "stopped" in broker.stderr()
        assert not broker.socket.exists()


def test_sighup_on_another_thread_reloads_an_idle_broker(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=BODY, name="hupthread") as broker:
        success(run_client(agent, broker.socket, "-c", "ps"))
        time.sleep(0.3)
        to_other_thread(broker.pid, signal.SIGHUP)
        assert wait_for(lambda: "policy reloaded" in broker.stderr(), 5), broker.stderr()
