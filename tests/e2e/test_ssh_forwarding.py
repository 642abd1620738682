"""Forwarding never starts the shell, so sshd itself must refuse it: TCP, SOCKS, stdio and unix sockets."""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.deployment import CLIENT_ENV, USER, Deployment, free_port, wait_for_port

DOCKER_SOCKET = "/var/run/docker.sock"
PING = b"GET /_ping HTTP/1.0\r\n\r\n"


class Target:
    """A TCP listener on loopback that records every connection it gets (none, if forwarding is refused)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.connections = 0
        self.server.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.sendall(b"target-says-hello\n")

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


@pytest.fixture
def target() -> Iterator[Target]:
    listener = Target()
    yield listener
    listener.close()


@contextlib.contextmanager
def ssh_in_background(deployment: Deployment, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    command = deployment.client("ssh", "-p", "-N", *options, f"{USER}@127.0.0.1")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=CLIENT_ENV)
    try:
        yield process
    finally:
        process.kill()
        process.wait(10)


def exchange(address: tuple[str, int] | str, payload: bytes = b"hello\n") -> bytes:
    """Connect (TCP or unix), send ``payload``, return whatever comes back before the close."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(address)
        sock.sendall(payload)
        chunks = []
        with contextlib.suppress(OSError):
            while chunk := sock.recv(4096):
                chunks.append(chunk)
        return b"".join(chunks)


def test_local_forward_is_refused(deployment: Deployment, target: Target) -> None:
    local, mark = free_port(), len(deployment.sshd.log_text())
    with ssh_in_background(deployment, "-L", f"127.0.0.1:{local}:127.0.0.1:{target.port}"):
        wait_for_port(local)  # the client listens on its side; sshd must refuse the channel
        assert exchange(("127.0.0.1", local)) == b""
    assert target.connections == 0
    assert "refused local port forward" in deployment.sshd.log_text()[mark:]


def test_remote_forward_is_refused(deployment: Deployment, target: Target) -> None:
    remote = free_port()
    forward = f"127.0.0.1:{remote}:127.0.0.1:{target.port}"
    outcome = deployment.ssh(options=["-N", "-o", "ExitOnForwardFailure=yes", "-R", forward])
    assert outcome.status == 255
    assert "remote port forwarding failed" in outcome.stderr
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", remote), timeout=1).close()
    assert target.connections == 0


def test_dynamic_socks_forward_is_refused(deployment: Deployment, target: Target) -> None:
    local, mark = free_port(), len(deployment.sshd.log_text())
    with ssh_in_background(deployment, "-D", f"127.0.0.1:{local}"):
        wait_for_port(local)
        with socket.create_connection(("127.0.0.1", local), timeout=5) as sock:
            sock.sendall(b"\x05\x01\x00")  # SOCKS5, no authentication
            assert sock.recv(2) == b"\x05\x00"
            sock.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", target.port))
            try:
                reply = sock.recv(10)
            except TimeoutError:
                reply = b""
    assert reply[:2] != b"\x05\x00", "the SOCKS connect succeeded"
    assert "refused local port forward" in deployment.sshd.log_text()[mark:]
    assert target.connections == 0


def test_stdio_forward_is_refused(deployment: Deployment, target: Target) -> None:
    mark = len(deployment.sshd.log_text())
    outcome = deployment.ssh("-W", f"127.0.0.1:{target.port}")
    assert outcome.status == 255
    assert "refused local port forward" in deployment.sshd.log_text()[mark:]
    assert "target-says-hello" not in outcome.stdout
    assert target.connections == 0


@pytest.mark.parametrize("remote_socket", ["docker", "broker"])
def test_unix_socket_forward_is_refused(deployment: Deployment, remote_socket: str, tmp_path: Path) -> None:
    remote = DOCKER_SOCKET if remote_socket == "docker" else str(deployment.socket)
    local, mark = tmp_path / "forwarded.sock", len(deployment.sshd.log_text())
    with ssh_in_background(deployment, "-L", f"{local}:{remote}"):
        deadline = time.monotonic() + 10
        while not local.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        answer = exchange(str(local), PING if remote_socket == "docker" else b'{"op": "status"}\n')
    assert answer == b""
    assert f"refused streamlocal port forward: originator  port 0, target {remote}" in deployment.sshd.log_text()[mark:]


def test_remote_unix_socket_forward_is_refused(deployment: Deployment) -> None:
    """``-R`` to a socket path on the server would create a socket the agent owns (to the client's Docker)."""
    remote = deployment.dropbox / "remote.sock"
    outcome = deployment.ssh(options=["-N", "-o", "ExitOnForwardFailure=yes", "-R", f"{remote}:{DOCKER_SOCKET}"])
    assert outcome.status == 255
    assert not remote.exists()


def test_tunnel_device_is_refused(deployment: Deployment) -> None:
    outcome = deployment.ssh("-w", "any", "-o", "ExitOnForwardFailure=yes", "-N")
    assert outcome.status == 255
