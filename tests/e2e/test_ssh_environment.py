"""Environment injection: nothing the client sends or the home holds reaches the loader, /bin/sh or Python.

Each payload would leave a marker file if any process of the login ran it. The controls show the
payloads are live: the same ``~/.ssh/environment`` under ``PermitUserEnvironment yes`` does run the
preloaded library (so the sshd setting, not luck, stops it), while Python's ``-I`` and the launcher's
``env -i`` still keep the Python payloads out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.deployment import Deployment, Sshd, as_agent

EVIL_C = """\
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void) {{
    int fd = open("{marker}", O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) close(fd);
}}
"""
PYTHON_MARK = "open({marker!r}, 'w').close()\n"


@dataclass(frozen=True)
class Payloads:
    markers: Path
    library: Path
    startup: Path
    python_path: Path
    shell_startup: Path
    compiled: bool

    def planted(self) -> list[str]:
        return sorted(path.name for path in self.markers.iterdir())

    def clear(self) -> None:
        for path in self.markers.iterdir():
            path.unlink()


@pytest.fixture(scope="module")
def payloads(deployment: Deployment) -> Payloads:
    """Root's payload files; each writes a marker into a directory the agent owns."""
    root, markers = deployment.payload, deployment.base / "markers"
    markers.mkdir(mode=0o755, exist_ok=True)
    os.chown(markers, deployment.uid, -1)
    library = root / "evil.so"
    compiled = False
    if shutil.which("cc"):
        source = root / "evil.c"
        source.write_text(EVIL_C.format(marker=markers / "ld_preload"))
        compiled = (
            subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=False).returncode == 0
        )
    startup = root / "startup.py"
    startup.write_text(PYTHON_MARK.format(marker=str(markers / "pythonstartup")))
    python_path = root / "pypath"
    (python_path / "rshell").mkdir(parents=True, exist_ok=True)
    for name in ("sitecustomize.py", "usercustomize.py", "rshell/__init__.py"):
        (python_path / name).write_text(PYTHON_MARK.format(marker=str(markers / f"pythonpath-{Path(name).stem}")))
    shell_startup = root / "startup.sh"
    shell_startup.write_text(f"touch {markers}/shell-startup\n")
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return Payloads(markers, library, startup, python_path, shell_startup, compiled)


@pytest.fixture
def clean(payloads: Payloads) -> Iterator[Payloads]:
    payloads.clear()
    yield payloads
    payloads.clear()


#: one row per variable a client might send; {fields} are the payload paths
INJECTIONS = [
    ("PYTHONPATH", "{python_path}"),
    ("PYTHONSTARTUP", "{startup}"),
    ("PYTHONINSPECT", "1"),
    ("PYTHONHOME", "{python_path}"),
    ("PYTHONUSERBASE", "{python_path}"),
    ("LD_PRELOAD", "{library}"),
    ("LD_LIBRARY_PATH", "{payload}"),
    ("LD_AUDIT", "{library}"),
    ("GCONV_PATH", "{payload}"),
    ("BASH_ENV", "{shell_startup}"),
    ("ENV", "{shell_startup}"),
    ("SSH_ORIGINAL_COMMAND", "bash"),
    ("LC_ALL", "{payload}"),
    ("LC_CTYPE", "$(touch {markers}/lc-payload)"),
    ("LC_PAYLOAD", "`touch {markers}/lc-payload`"),
    ("LC_PYTHONSTARTUP", "{startup}"),
    ("LANG", ";touch {markers}/lc-payload"),
]


def setenv(payloads: Payloads, rows: list[tuple[str, str]]) -> str:
    fields = {**{key: str(value) for key, value in vars(payloads).items()}, "payload": str(payloads.library.parent)}
    return "SetEnv=" + " ".join(f'{name}="{value.format(**fields)}"' for name, value in rows)


@pytest.mark.parametrize(("name", "value"), INJECTIONS, ids=[name for name, _ in INJECTIONS])
def test_client_environment_is_ignored(deployment: Deployment, clean: Payloads, name: str, value: str) -> None:
    mark = len(deployment.sshd.log_text())
    python = f"open('{clean.markers}/inspect', 'w').close()\n".encode()  # what PYTHONINSPECT would run
    outcome = deployment.ssh("--", "ps", options=["-o", setenv(clean, [(name, value)])], stdin=python)
    assert outcome.status == 0, outcome.stderr
    assert deployment.web in outcome.stdout
    assert "preloaded" not in outcome.stderr
    assert clean.planted() == []
    assert f"Ignoring env request {name}: disallowed name" in deployment.sshd.log_text()[mark:]


def test_everything_at_once_on_a_terminal(deployment: Deployment, clean: Payloads) -> None:
    outcome = deployment.ssh("-tt", "--", "ps", options=["-o", setenv(clean, INJECTIONS)])
    assert outcome.status == 0, outcome.stderr
    assert clean.planted() == []


@pytest.fixture
def planted_home(deployment: Deployment, clean: Payloads) -> Iterator[Payloads]:
    """~/.ssh/rc and ~/.ssh/environment as root plants them (the agent cannot): would sshd honour them?"""
    ssh = deployment.home / ".ssh"
    rc, environment = ssh / "rc", ssh / "environment"
    rc.write_text(f"#!/bin/sh\ntouch {clean.markers}/ssh-rc\n")
    environment.write_text(
        f"LD_PRELOAD={clean.library}\nPYTHONSTARTUP={clean.startup}\nPYTHONPATH={clean.python_path}\n"
        f"BASH_ENV={clean.shell_startup}\n"
    )
    pam = deployment.home / ".pam_environment"
    pam.write_text(f"LD_PRELOAD DEFAULT={clean.library}\n")
    try:
        yield clean
    finally:
        for path in (rc, environment, pam):
            path.unlink()


def test_agent_cannot_create_rc_or_environment(deployment: Deployment) -> None:
    for name in (".ssh/rc", ".ssh/environment", ".pam_environment", ".ssh/authorized_keys"):
        outcome = as_agent(["touch", str(deployment.home / name)])
        assert outcome.status != 0
        assert "Permission denied" in outcome.stderr


def test_planted_rc_and_environment_do_not_run(deployment: Deployment, planted_home: Payloads) -> None:
    outcome = deployment.ssh("--", "ps")
    assert outcome.status == 0, outcome.stderr
    assert "preloaded" not in outcome.stderr
    assert planted_home.planted() == []


def test_control_permit_user_environment_runs_the_preload(
    deployment: Deployment, variant_sshd: dict[str, Sshd], planted_home: Payloads
) -> None:
    """With PermitUserEnvironment yes (set before the drop-in), sshd hands LD_PRELOAD to the launcher's
    /bin/sh: the library runs. Python's payloads still do not (``env -i`` and ``-I``)."""
    if not planted_home.compiled:
        pytest.skip("no C compiler to build the preload library; the refusals above still ran")
    outcome = deployment.ssh("--", "ps", port=variant_sshd["user-environment"].port)
    assert outcome.status == 0, outcome.stderr
    assert planted_home.planted() == ["ld_preload"]
