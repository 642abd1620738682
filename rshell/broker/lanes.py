"""A listening socket per uid beside the shared one, so that one user's connections wait in the kernel
apart from another's.

The kernel keeps one queue of connections per listening socket and hands them out in order
(unix_stream_connect, net/unix/af_unix.c): behind one shared socket, a user who connects and closes
as fast as it can puts its whole queue, and every connect blocked waiting for room in it, ahead of
everybody else's connection. So the broker gives each uid that reaches it a lane: a socket at
``SOCKET.lanes/UID``, owned by that uid, mode 0600 (only it, and root, may connect), listened on by the
same accept loop. The loop takes a few connections from each ready lane in turn, and no more from a
lane than its uid's connection rate allows (``--connection-rate-per-uid``): what a uid sends past
its rate waits in its own lane, costing the broker nothing, while another uid's connection is taken
at the next turn. The shared socket stays the way in for a uid's first connection (which makes its
lane), for clients that do not know lanes, and whenever a lane is missing.

Who connected is still read from the kernel (SO_PEERCRED) on every connection, never from the lane
it came through; a connection through a lane whose uid has left the socket's group since is refused
(rshell.broker.handler), as the shared socket's mode would refuse it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from pathlib import Path

from rshell.broker.state import log
from rshell.defaults import lane_path, lanes_directory

#: connections a lane's queue holds; its uid's connects past that wait for room (the client blocks up to 5 s)
LANE_BACKLOG = 64
#: lanes at most (one per uid): past this, a uid without a lane uses the shared socket
MAX_LANES = 1024
LANE_MODE = 0o600
DIRECTORY_MODE = 0o755


class Lanes:
    """The lanes of one broker: made on a uid's first connection, removed when the broker stops."""

    def __init__(self, shared: Path) -> None:
        self.shared = shared
        self.directory = Path(lanes_directory(str(shared)))
        self.by_uid: dict[int, socket.socket] = {}
        self.enabled = True

    def prepare(self) -> None:
        """An empty directory of lanes (a stale one from a broker that died is replaced); called once
        the shared socket is ours, so a second broker never removes a live one's lanes."""
        with contextlib.suppress(FileNotFoundError):
            if self.directory.is_symlink() or not self.directory.is_dir():
                self.directory.unlink()
            else:
                shutil.rmtree(self.directory)
        try:
            os.mkdir(self.directory, DIRECTORY_MODE)
            os.chmod(self.directory, DIRECTORY_MODE)  # whatever the umask
        except OSError as error:
            self._disable(f"cannot make {self.directory}: {error.strerror or error}")

    def open(self, uid: int) -> socket.socket | None:
        """uid's new lane, listening and non-blocking; None when there is none to be had (the cap, or
        the broker may not give a socket to another user: it is not root and lacks CAP_CHOWN)."""
        if not self.enabled or uid in self.by_uid or len(self.by_uid) >= MAX_LANES:
            return None
        path = Path(lane_path(str(self.shared), uid))
        lane = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            lane.bind(str(path))
            os.chown(path, uid, -1)
            os.chmod(path, LANE_MODE)
            lane.listen(LANE_BACKLOG)
        except OSError as error:
            lane.close()
            with contextlib.suppress(OSError):
                path.unlink()
            self._disable(f"cannot make a lane for uid {uid} ({error.strerror or error})")
            return None
        finally:
            os.umask(old_umask)
        lane.setblocking(False)
        self.by_uid[uid] = lane
        return lane

    def _disable(self, reason: str) -> None:
        self.enabled = False
        log(f"{reason}: every user connects through the shared socket")

    def close_all(self) -> None:
        for lane in self.by_uid.values():
            lane.close()
        self.by_uid.clear()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.directory)
