"""A broker started from a command line of the test's choosing (another venv, setpriv, a shell with a
umask), as root; and a venv with rshell installed normally but without the optional extras."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.broker.harness import raw_exchange

REPO = Path(__file__).resolve().parents[2]
START_DEADLINE = 20.0


@contextlib.contextmanager
def command_broker(command: Sequence[str], socket_path: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (which must start rshelld on ``socket_path``) until it answers status; SIGTERM at the end."""
    with log.open("ab") as stderr:
        process = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stderr=stderr, cwd="/")
    try:
        wait_until_up(process, socket_path, log)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_up(process: subprocess.Popen[bytes], socket_path: Path, log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rshelld exited with {process.returncode}: {log.read_text(errors='replace')}")
        with contextlib.suppress(OSError, ValueError, IndexError):
            if raw_exchange(socket_path, {"v": 1, "op": "status"}, timeout=2)[0].get("op") == "status":
                return
        time.sleep(0.05)
    raise RuntimeError(f"rshelld did not answer on {socket_path}: {log.read_text(errors='replace')}")


def venv_without_extras(directory: Path) -> Path:
    """A venv from Debian's python3 with rshell and its required dependencies only (no mcp, no nvidia
    extra), as ``pip install rshell`` leaves a host; its python."""
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(directory)], check=True, capture_output=True)
    pip = [str(directory / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(REPO)]
    subprocess.run(pip, check=True, capture_output=True, timeout=600, cwd="/")
    return directory / "bin" / "python"
