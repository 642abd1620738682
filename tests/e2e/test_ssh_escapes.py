"""Everything that is not a verb fails over ssh, and the agent gets nothing: no shell, no files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.deployment import USER, Deployment, Sshd, run

#: one row per attempt: the command line the client sends, and the exit status rshell gives it
COMMANDS = [
    ("bash", 127),
    ("sh", 127),
    ("/bin/sh -c id", 127),
    ("ps; id", 2),
    ("ps && id", 2),
    ("ps | id", 2),
    ("ps $(id)", 2),
    ("ps `id`", 2),
    ("ps > /tmp/x", 2),
    ("ps\nid", 2),
    ("exec id", 127),
    ("scp -t /tmp", 127),
    ("/usr/lib/openssh/sftp-server", 127),
    ("internal-sftp", 127),
    ("rshell:ssh-original-command", 127),
    ("python3 -c 'import os'", 127),
    ("ps --json; id", 2),
]
SECRET = "agent-readable-secret-7f3a"


@pytest.fixture(scope="module")
def readable_file(deployment: Deployment) -> Path:
    """A file the agent's uid may read: a working sftp or scp would hand it over."""
    path = deployment.payload / "readable.txt"
    path.write_text(SECRET + "\n")
    path.chmod(0o644)
    return path


@pytest.mark.parametrize(("line", "status"), COMMANDS)
def test_commands_that_are_not_verbs(deployment: Deployment, line: str, status: int) -> None:
    outcome = deployment.ssh("--", line)
    assert outcome.status == status, outcome.stderr
    assert outcome.stdout == ""
    assert "uid=" not in outcome.stderr
    assert outcome.stderr.startswith("rshell: ")


def test_sessions_run_under_forcecommand(deployment: Deployment) -> None:
    deployment.ssh("--", "ps")
    assert f"forced-command (config) 'rshell:ssh-original-command' for {USER}" in deployment.sshd.log_text()


def sftp_get(deployment: Deployment, port: int, source: Path, target: Path) -> tuple[int, str]:
    batch = deployment.base / "sftp-batch"
    batch.write_text(f"get {source} {target}\nls /\n")
    command = deployment.client("sftp", "-P", "-b", str(batch), f"{USER}@127.0.0.1", port=port)
    outcome = run(command)
    return outcome.status, outcome.stdout + outcome.stderr


@pytest.mark.parametrize("variant", ["main", "internal-sftp"])
def test_sftp_gets_nothing(
    deployment: Deployment, variant_sshd: dict[str, Sshd], readable_file: Path, tmp_path: Path, variant: str
) -> None:
    """Debian's external sftp-server and internal-sftp alike: ForceCommand sends the request to rshell."""
    port = deployment.sshd.port if variant == "main" else variant_sshd[variant].port
    status, output = sftp_get(deployment, port, readable_file, tmp_path / "got")
    assert status != 0
    assert not (tmp_path / "got").exists()
    assert SECRET not in output
    assert "bin" not in output.split()


def test_control_internal_sftp_without_forcecommand_leaks(
    deployment: Deployment, variant_sshd: dict[str, Sshd], readable_file: Path, tmp_path: Path
) -> None:
    """The control: the same drop-in minus ForceCommand, with internal-sftp, hands the file over."""
    status, output = sftp_get(deployment, variant_sshd["no-forcecommand"].port, readable_file, tmp_path / "got")
    assert status == 0, output
    assert (tmp_path / "got").read_text().strip() == SECRET


@pytest.mark.parametrize("variant", ["main", "internal-sftp"])
def test_ssh_s_sftp(deployment: Deployment, variant_sshd: dict[str, Sshd], variant: str) -> None:
    port = deployment.sshd.port if variant == "main" else variant_sshd[variant].port
    # an SFTP client's first packet: SSH_FXP_INIT, version 3
    outcome = deployment.ssh("-s", "sftp", port=port, stdin=b"\x00\x00\x00\x05\x01\x00\x00\x00\x03")
    assert outcome.status == 127, outcome.stderr
    assert outcome.stdout == ""


@pytest.mark.parametrize("legacy", [True, False], ids=["scp-O", "scp-sftp"])
def test_scp_upload(deployment: Deployment, legacy: bool, tmp_path: Path) -> None:
    source = tmp_path / "upload.txt"
    source.write_text("uploaded\n")
    target = deployment.dropbox / f"upload-{legacy}"
    flags = ["-O"] if legacy else []
    outcome = run(deployment.client("scp", "-P", *flags, str(source), f"{USER}@127.0.0.1:{target}"))
    assert outcome.status != 0
    assert not target.exists()
    assert list(deployment.dropbox.iterdir()) == []


@pytest.mark.parametrize("legacy", [True, False], ids=["scp-O", "scp-sftp"])
def test_scp_download(deployment: Deployment, legacy: bool, readable_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "downloaded"
    flags = ["-O"] if legacy else []
    outcome = run(deployment.client("scp", "-P", *flags, f"{USER}@127.0.0.1:{readable_file}", str(target)))
    assert outcome.status != 0
    assert not target.exists()
    assert SECRET not in outcome.stdout + outcome.stderr
