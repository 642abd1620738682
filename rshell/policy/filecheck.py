"""Refuse a policy file others could have changed, as sshd's StrictModes does."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rshell.errors import PolicyError

MAX_POLICY_BYTES = 1 << 20


def check_policy_file(path: Path, *, allow_owner_uid: int | None = None) -> None:
    """Raise PolicyError unless the file and every directory above it are root's (or the allowed
    owner's) and not writable by group or others (sticky directories such as /tmp excepted)."""
    trusted = {0} if allow_owner_uid is None else {0, allow_owner_uid}
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} does not exist") from None
    except OSError as error:
        raise PolicyError(f"cannot read policy file {path}: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise PolicyError(f"policy file {path} is not a regular file")
    if info.st_size > MAX_POLICY_BYTES:
        raise PolicyError(f"policy file {path} is larger than {MAX_POLICY_BYTES} bytes")
    _check_owner_and_mode(path, info, trusted, "policy file")
    resolved = path.resolve()
    for directory in resolved.parents:  # like sshd's StrictModes: whoever can swap any directory owns the policy
        directory_info = os.stat(directory)
        if not directory_info.st_mode & stat.S_ISVTX:
            what = "directory of the policy file" if directory == resolved.parent else "directory above the policy file"
            _check_owner_and_mode(directory, directory_info, trusted, what)


def _check_owner_and_mode(path: Path, info: os.stat_result, trusted: set[int], what: str) -> None:
    if info.st_uid not in trusted:
        raise PolicyError(f"{what} {path} is owned by uid {info.st_uid}, not root: fix with 'chown root:root {path}'")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = (
            "group and others"
            if info.st_mode & stat.S_IWGRP and info.st_mode & stat.S_IWOTH
            else ("group" if info.st_mode & stat.S_IWGRP else "others")
        )
        raise PolicyError(f"{what} {path} is writable by {who}: fix with 'chmod go-w {path}'")
