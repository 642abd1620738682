"""The installed login shell: the launcher script's text, and the files the agent must not be able to change.

The launcher is a small root-owned ``/bin/sh`` script (nothing to compile, easy to audit). It
accepts only what sshd passes (nothing, or ``-c LINE``; under ``ForceCommand`` the line comes in
``SSH_ORIGINAL_COMMAND``), then ``exec``s ``env -i`` so Python starts with a fixed environment, and
runs it isolated (``-I``: no ``PYTHON*`` variables, no user site-packages, no script directory on
``sys.path``). A shell script cannot protect itself from a hostile *loader* environment
(``LD_PRELOAD`` acts before its first line), so sshd must never pass one: that is the job of
``deploy/sshd_config.d/rshell.conf``, and ``rshellctl doctor`` checks it.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

#: what ``ForceCommand`` says; the launcher then takes the client's line from SSH_ORIGINAL_COMMAND.
#: Not a program name anywhere, so a wrong login shell fails closed ("command not found").
FORCED_COMMAND = "rshell:ssh-original-command"
DEFAULT_LAUNCHER = Path("/usr/local/lib/rshell/rshell-login")
#: programs the launcher runs before Python: they see sshd's environment
INTERPRETERS = (Path("/bin/sh"), Path("/usr/bin/env"))
#: what Python runs: ``-c`` rather than ``-m rshell.login``, which would load runpy and importlib.util
#: on every ssh command; with ``-I`` neither the current nor any script directory is on sys.path
LOGIN_CODE = "import sys; from rshell.login import main; sys.exit(main())"
#: the only environment Python gets (TERM is added after the launcher checked it)
CLEAN_ENVIRONMENT = ("PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8")

TEMPLATE = """\
#!/bin/sh
# rshell login shell, written by rshell (rshellctl install-user, or the NixOS module). Keep it
# root:root 0755: the account it serves must never be able to change this file, the Python it
# runs or the rshell package (rshell refuses to start when it can; `rshellctl doctor` says which).
# sshd runs it as `rshell-login` (login), `rshell-login -c LINE` (ssh host LINE), and under
# ForceCommand as `rshell-login -c {forced}` with the line in SSH_ORIGINAL_COMMAND.
if [ "$#" -eq 2 ] && [ "$1" = -c ] && [ "$2" = {forced_q} ]; then
    if [ -n "${{SSH_ORIGINAL_COMMAND+set}}" ]; then
        set -- -c "$SSH_ORIGINAL_COMMAND"
    else
        set --
    fi
fi
case "${{TERM:-}}" in
    '' | *[!A-Za-z0-9._+-]*) TERM=dumb ;;
esac
exec /usr/bin/env -i {environment} TERM="$TERM" \\
    {python} -I -c {code} {launcher} {socket} "$@"
"""


def render_launcher(python: Path, launcher: Path, socket: Path) -> str:
    """The launcher script for this interpreter, install path and broker socket."""
    for path in (python, launcher, socket):
        if not path.is_absolute() or any(ch in str(path) for ch in "\n\r\0"):
            raise ValueError(f"{path!s} must be an absolute path on one line")
    return TEMPLATE.format(
        forced=FORCED_COMMAND,
        forced_q=shlex.quote(FORCED_COMMAND),
        environment=" ".join(CLEAN_ENVIRONMENT),
        python=shlex.quote(str(python)),
        code=shlex.quote(LOGIN_CODE),
        launcher=shlex.quote(str(launcher)),
        socket=shlex.quote(str(socket)),
    )


def launcher_command(text: str) -> list[str]:
    """The words of the launcher's ``exec`` line (what ``rshellctl doctor`` inspects)."""
    joined = text.replace("\\\n", " ")
    for line in joined.splitlines():
        words = shlex.split(line, comments=True) if line.strip().startswith("exec ") else []
        if words:
            return words
    return []


def guarded_paths(launcher: Path, python: Path, packages: Iterable[Path], search_path: Iterable[Path]) -> list[Path]:
    """Every file and directory whose owner decides what code the login shell runs.

    The launcher, its interpreters, Python (the venv link and the real binary, ``pyvenv.cfg``),
    each ``sys.path`` directory with what lies directly in it (``.pth`` files, the editable finder),
    every file of the rshell packages, and all their parent directories.
    """
    found: dict[Path, None] = {}
    roots = [launcher, *INTERPRETERS, python, python.parent.parent / "pyvenv.cfg"]
    for root in roots:
        _add_with_parents(found, root)
    for directory in search_path:
        if directory.is_dir():
            _add_with_parents(found, directory)
            found.update(dict.fromkeys(_children(directory)))
    for package in packages:
        _add_with_parents(found, package)
        found.update(dict.fromkeys(_tree(package)))
    return list(found)


def unsafe_for_me(paths: Iterable[Path]) -> list[str]:
    """Which paths this process's user could change (own, or write; sticky directories such as
    /tmp excepted, as sshd's StrictModes does). Root is not checked: it can change anything."""
    uid = os.getuid()
    problems: list[str] = []
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue
        if info.st_uid == uid:
            problems.append(f"{path} is owned by you")
        elif os.access(path, os.W_OK) and not (stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX):
            problems.append(f"{path} is writable by you")
    return problems


def running_paths(launcher: Path) -> list[Path]:
    """``guarded_paths`` for the Python running now."""
    import rshell  # noqa: PLC0415

    commands = importlib.util.find_spec("rshell.commands")
    locations = (commands.submodule_search_locations or []) if commands else []
    packages = [Path(rshell.__file__).parent, *(Path(p) for p in locations)]
    search = [Path(entry) for entry in sys.path if entry and Path(entry).is_absolute()]
    return guarded_paths(launcher, Path(sys.executable), packages, search)


def _add_with_parents(found: dict[Path, None], path: Path) -> None:
    for candidate in (Path(os.path.abspath(path)), path.resolve()):
        found[candidate] = None
        found.update(dict.fromkeys(candidate.parents))


def _children(directory: Path) -> Iterator[Path]:
    try:
        yield from directory.iterdir()
    except OSError:
        return


def _tree(root: Path) -> Iterator[Path]:
    for directory, _subdirectories, files in os.walk(root):  # __pycache__ too: a planted .pyc is code
        yield Path(directory)
        yield from (Path(directory, name) for name in files)
