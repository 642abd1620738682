"""Which files decide what code the login shell runs, and whether the calling user could change one.

On the start-up path of every ssh command (rshell.login), so it works on plain strings with os and
stat: pathlib alone would cost more than the check.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Iterator

#: programs the launcher runs before Python: they see sshd's environment
INTERPRETERS = ("/bin/sh", "/usr/bin/env")
_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


def guarded_paths(launcher: str, python: str, packages: Iterable[str], search_path: Iterable[str]) -> list[str]:
    """Every file and directory whose owner decides what code the login shell runs.

    The launcher, its interpreters, Python (the venv link and the real binary, ``pyvenv.cfg``),
    each ``sys.path`` directory with what lies directly in it (``.pth`` files, the editable finder),
    every file of the rshell packages, and all their parent directories.
    """
    found: dict[str, None] = {}
    venv_config = os.path.join(os.path.dirname(os.path.dirname(python)), "pyvenv.cfg")
    for root in (launcher, *INTERPRETERS, python, venv_config):
        _add_with_parents(found, root)
    for directory in search_path:
        if os.path.isdir(directory):
            _add_with_parents(found, directory)
            found.update(dict.fromkeys(_children(directory)))
    for package in packages:
        _add_with_parents(found, package)
        found.update(dict.fromkeys(_tree(package)))
    return list(found)


def running_paths(launcher: str) -> list[str]:
    """``guarded_paths`` for the Python running now."""
    import importlib  # noqa: PLC0415

    import rshell  # noqa: PLC0415

    commands = importlib.import_module("rshell.commands")  # installed from commands/, possibly elsewhere
    packages = [os.path.dirname(rshell.__file__), *getattr(commands, "__path__", [])]
    search = [entry for entry in sys.path if entry and os.path.isabs(entry)]
    return guarded_paths(launcher, sys.executable, packages, search)


def unsafe_for_me(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Which paths this process's user could change (own, or write; sticky directories such as
    /tmp excepted, as sshd's StrictModes does). Root is not checked: it can change anything.

    ``os.access`` asks the kernel (ACLs, groups) only where a group or other write bit is set: an
    ACL that grants write shows in the group bits as its mask, so a path without them is safe.
    """
    uid = os.getuid()
    problems: list[str] = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        if info.st_uid == uid:
            problems.append(f"{os.fspath(path)} is owned by you")
        elif info.st_mode & _WRITABLE_BY_OTHERS and os.access(path, os.W_OK) and not _sticky_directory(info):
            problems.append(f"{os.fspath(path)} is writable by you")
    return problems


def _sticky_directory(info: os.stat_result) -> bool:
    return stat.S_ISDIR(info.st_mode) and bool(info.st_mode & stat.S_ISVTX)


def _add_with_parents(found: dict[str, None], path: str) -> None:
    for start in (os.path.abspath(path), os.path.realpath(path)):
        current, parent = start, ""
        while parent != current:
            found[current] = None
            current, parent = os.path.dirname(current), current


def _children(directory: str) -> Iterator[str]:
    try:
        yield from (entry.path for entry in os.scandir(directory))
    except OSError:
        return


def _tree(root: str) -> Iterator[str]:
    for directory, _subdirectories, files in os.walk(root):  # __pycache__ too: a planted .pyc is code
        yield directory
        yield from (os.path.join(directory, name) for name in files)
