"""Open the TCP (and TLS) connection to an ollama server so that a cancel or the deadline ends the wait.

A blocking ``connect`` cannot be cut from another thread, so the connect waits in short slices
and looks at the cancel signal between them; the TLS handshake runs on a socket the watchdog
already watches. Only the name lookup (``getaddrinfo``) blocks without a slice: the resolver's own
timeouts bound it.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
import time
from typing import TYPE_CHECKING

from rshell.ollama.errors import RequestCancelled
from rshell.ollama.watchdog import Watch

if TYPE_CHECKING:
    import ssl

#: how often a connect in progress looks at the cancel signal
CONNECT_SLICE_SECONDS = 0.1


def open_socket(host: str, port: int, deadline: float, cancel: threading.Event) -> socket.socket:
    """A connected socket to the first address of ``host`` that answers; OSError otherwise."""
    last_error: OSError = OSError(errno.EADDRNOTAVAIL, f"no address for {host}")
    for family, kind, protocol, _name, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, protocol)
        try:
            _connect(sock, address, deadline, cancel)
        except OSError as error:
            sock.close()
            last_error = error
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise last_error


def _connect(sock: socket.socket, address: object, deadline: float, cancel: threading.Event) -> None:
    sock.setblocking(False)
    status = sock.connect_ex(address)  # type: ignore[arg-type]  # getaddrinfo's address for this family
    while status in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
        if cancel.is_set():
            raise RequestCancelled("cancelled")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("connect timed out")
        _readable, writable, _broken = select.select([], [sock], [], min(remaining, CONNECT_SLICE_SECONDS))
        if writable:
            status = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            break
    if status != 0:
        raise OSError(status, os.strerror(status))
    sock.setblocking(True)


def start_tls(watch: Watch, host: str, deadline: float) -> ssl.SSLSocket:
    """Wrap the watched socket in TLS (verified, as ``http.client`` does by default) and shake hands
    under the watch, so a server that trickles its handshake is cut at the deadline too."""
    import ssl  # noqa: PLC0415 - only https targets pay for it

    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    tls = context.wrap_socket(watch.sock, server_hostname=host, do_handshake_on_connect=False)
    watch.replace_socket(tls)  # wrap_socket moved the descriptor to the new object
    tls.settimeout(max(deadline - time.monotonic(), 0.001))
    tls.do_handshake()
    return tls
