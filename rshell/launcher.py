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

import shlex
from pathlib import Path

#: what ``ForceCommand`` says; the launcher then takes the client's line from SSH_ORIGINAL_COMMAND.
#: Not a program name anywhere, so a wrong login shell fails closed ("command not found").
FORCED_COMMAND = "rshell:ssh-original-command"
DEFAULT_LAUNCHER = Path("/usr/local/lib/rshell/rshell-login")
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
