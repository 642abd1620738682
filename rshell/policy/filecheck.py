"""Refuse a policy file others could have changed, as sshd's StrictModes does, checking and reading one fd."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from rshell.errors import PolicyError

MAX_POLICY_BYTES = 1 << 20
#: as the kernel's MAXSYMLINKS: more links than this on one path is a loop
MAX_SYMLINKS = 40
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC  # a FIFO must not block the open


def check_policy_file(path: Path, *, allow_owner_uid: int | None = None) -> None:
    """Raise PolicyError unless read_policy_file would accept the file."""
    read_policy_file(path, allow_owner_uid=allow_owner_uid)


def read_policy_file(path: Path, *, allow_owner_uid: int | None = None) -> bytes:
    """The file's bytes, read from the very descriptor whose owner, mode, type and size were checked,
    after every directory the path goes through (a symlink's own directory included) was checked too."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} does not exist") from None
    except OSError as error:
        _explain_unopenable(path, _trusted(allow_owner_uid))  # a file we may not open: say whose it is
        raise PolicyError(f"cannot read policy file {path}: {error.strerror}") from None
    try:
        return read_checked(fd, path, allow_owner_uid=allow_owner_uid)
    finally:
        os.close(fd)


def read_checked(fd: int, path: Path, *, allow_owner_uid: int | None = None) -> bytes:
    """Check the open file ``fd`` (which ``path`` was opened as) and the directories of ``path``; read ``fd``.

    Raise PolicyError if anything is wrong, or if ``path`` no longer names the file ``fd`` is.
    """
    trusted = _trusted(allow_owner_uid)
    info = os.fstat(fd)
    _check_file(path, info, trusted)
    final = _check_path(path, trusted)
    try:
        named = os.stat(final, follow_symlinks=False)
    except OSError:
        named = None
    if named is None or (named.st_dev, named.st_ino) != (info.st_dev, info.st_ino):
        raise PolicyError(f"policy file {path} was replaced while it was being read")
    return _read_all(fd, path)


def _trusted(allow_owner_uid: int | None) -> set[int]:
    return {0} if allow_owner_uid is None else {0, allow_owner_uid}


def _check_file(path: Path, info: os.stat_result, trusted: set[int]) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise PolicyError(f"policy file {path} is not a regular file")
    if info.st_size > MAX_POLICY_BYTES:
        raise PolicyError(f"policy file {path} is larger than {MAX_POLICY_BYTES} bytes")
    _check_owner_and_mode(path, info, trusted, "policy file")


def _explain_unopenable(path: Path, trusted: set[int]) -> None:
    """Raise the owner/mode problem of a file that could not be opened, if it has one (only the message
    comes from this path lookup: nothing is read)."""
    try:
        info = os.stat(path)
    except OSError:
        return
    _check_file(path, info, trusted)


def _check_path(path: Path, trusted: set[int]) -> Path:
    """Walk ``path`` as the kernel does, then check each directory passed through and each symlink
    followed (whoever can swap any of them owns the policy); return the real file it names."""
    absolute = path if path.is_absolute() else Path.cwd() / path  # not abspath: "link/.." is the kernel's to resolve
    pending = list(PurePosixPath(absolute).parts[1:])
    current = Path("/")
    directories = [current]
    links: list[Path] = []
    while pending:
        part = pending.pop(0)
        candidate = current if part == "." else current.parent if part == ".." else current / part
        info = _lstat(candidate, path)
        if stat.S_ISLNK(info.st_mode):
            links.append(candidate)
            if len(links) > MAX_SYMLINKS:
                raise PolicyError(f"policy file {path}: too many levels of symbolic links")
            _check_owner_and_mode(candidate, info, trusted, "symlink to the policy file", mode=False)
            target = PurePosixPath(os.readlink(candidate))
            pending = list(target.parts[1:] if target.is_absolute() else target.parts) + pending
            current = Path("/") if target.is_absolute() else current
            continue
        current = candidate
        if pending and current not in directories:
            directories.append(current)
    link_directories = {link.parent for link in links}
    for directory in directories:
        what = (
            "directory of the policy file"
            if directory == current.parent
            else "directory of a symlink to the policy file"
            if directory in link_directories
            else "directory above the policy file"
        )
        _check_directory(directory, what, trusted)
    return current


def _lstat(candidate: Path, path: Path) -> os.stat_result:
    try:
        return os.stat(candidate, follow_symlinks=False)
    except OSError as error:
        raise PolicyError(f"cannot check policy file {path}: {candidate}: {error.strerror}") from None


def _check_directory(directory: Path, what: str, trusted: set[int]) -> None:
    info = os.stat(directory, follow_symlinks=False)
    if not info.st_mode & stat.S_ISVTX:  # sticky, like /tmp: others cannot replace root's entries
        _check_owner_and_mode(directory, info, trusted, what)


def _read_all(fd: int, path: Path) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_POLICY_BYTES:
            raise PolicyError(f"policy file {path} is larger than {MAX_POLICY_BYTES} bytes")
    return b"".join(chunks)


def _check_owner_and_mode(path: Path, info: os.stat_result, trusted: set[int], what: str, *, mode: bool = True) -> None:
    if info.st_uid not in trusted:
        fix = f"chown -h root:root {path}" if stat.S_ISLNK(info.st_mode) else f"chown root:root {path}"
        raise PolicyError(f"{what} {path} is owned by uid {info.st_uid}, not root: fix with '{fix}'")
    if mode and info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = (
            "group and others"
            if info.st_mode & stat.S_IWGRP and info.st_mode & stat.S_IWOTH
            else ("group" if info.st_mode & stat.S_IWGRP else "others")
        )
        raise PolicyError(f"{what} {path} is writable by {who}: fix with 'chmod go-w {path}'")
