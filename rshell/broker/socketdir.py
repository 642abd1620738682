"""Where the broker's socket goes: a directory the broker owns, mode 0755 whatever the umask or
supervisor, and no other live broker already answering on the path.

Under a unit with ``UMask=0077`` and no ``RuntimeDirectoryMode=``, or any other supervisor, a
directory made with the umask is 0700 and the agent gets "Permission denied"; so the mode is set
explicitly (mkdir, then chmod), and a directory the broker does not own is refused with the fix.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
from pathlib import Path

from rshell.errors import UsageError, VerbFailed

DIRECTORY_MODE = 0o755
#: how long a live broker on the path has to answer a connect
PROBE_TIMEOUT = 1.0


def prepare_socket_path(path: Path) -> None:
    """Make ``path``'s directory ready and the path free, or raise one line saying what to do."""
    _prepare_directory(path.parent)
    if not (path.exists() or path.is_symlink()):
        return
    if not stat.S_ISSOCK(os.lstat(path).st_mode):
        raise UsageError(f"{path} exists and is not a socket; refusing to replace it")
    pid = live_broker_pid(path)
    if pid is not None:
        known = f" (pid {pid})" if pid else ""
        raise VerbFailed(f"another rshelld is serving {path}{known}; stop it first")
    path.unlink()  # a stale socket: nothing answers on it


def live_broker_pid(path: Path) -> int | None:
    """The pid of the process listening on ``path`` (0 if the kernel does not say), None if none does."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(PROBE_TIMEOUT)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return None
        except OSError as error:  # EAGAIN (backlog full) or a timeout: something is there
            raise VerbFailed(f"cannot tell whether another rshelld serves {path}: {error}; stop it first") from None
        with contextlib.suppress(OSError):
            return int(struct.unpack("3i", probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0])
        return 0


def _prepare_directory(directory: Path) -> None:
    if not directory.parent.is_dir():
        raise UsageError(f"{directory.parent} does not exist: create it (mkdir -p -m 0755 {directory.parent})")
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, DIRECTORY_MODE)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{directory} is not a directory; remove it or choose another --socket")
    euid = os.geteuid()
    if info.st_uid != euid:
        raise UsageError(
            f"{directory} is owned by uid {info.st_uid}, not by the broker (uid {euid}): "
            f"chown {euid} {directory} && chmod 0755 {directory}, or choose another --socket"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o1022:  # others could replace the socket (or, in a sticky /tmp, squat on its name)
        raise UsageError(
            f"{directory} is writable by others (mode {mode:04o}): chmod 0755 {directory}, "
            "or give the socket a directory of its own (--socket /run/rshell/rshell.sock)"
        )
    if mode != DIRECTORY_MODE:
        os.chmod(directory, DIRECTORY_MODE)  # e.g. 0700 from a umask of 0077: the agent could not reach the socket
