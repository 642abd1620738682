"""What the agent waits for: ``ssh host -- ps`` end to end on a loopback sshd, cold and over a shared
connection, next to ``ssh host docker ps`` as the old setup ran it (an account in the docker group).

    .venv/bin/python benchmarks/ssh_latency.py [--rounds N]        (as root)

The agent account is made by ``rshellctl install-user`` (launcher, group rshell), sshd includes
deploy/sshd_config.d/rshell.conf, rshelld runs from a normal install in a venv; the docker account
has a normal shell. Each command runs interleaved after a warm-up; medians are printed as a table.
"""

from __future__ import annotations

import argparse
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import IMAGE, bench_venv, broker, engine, ensure_image, interleaved, median_ms, run_quiet
from tests.e2e.deployment import CLIENT_OPTIONS, DROP_IN, Sshd, free_port

AGENT = f"rshbench-ssh-{secrets.token_hex(2)}"
OLD = f"rshbench-dock-{secrets.token_hex(2)}"
SOCKET_GROUP = "rshell"  # what the drop-in's Match Group names
CONTAINERS = 3


def sshd_config(base: Path, port: int) -> Path:
    path = base / "sshd_config"
    path.write_text(
        f"Include {DROP_IN}\nPort {port}\nListenAddress 127.0.0.1\nHostKey {base}/host_key\n"
        f"PidFile {base}/sshd.pid\nUsePAM no\nStrictModes yes\nAuthorizedKeysFile .ssh/authorized_keys\n"
        "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"AllowUsers {AGENT} {OLD}\nLogLevel ERROR\nAcceptEnv LANG LC_*\n"
    )
    return path


def make_old_account(base: Path, key: Path) -> None:
    """The old setup: a normal account with a shell, in the docker group, its key in ~/.ssh."""
    home = base / "home" / OLD
    command = ["useradd", "--system", "--home-dir", str(home), "--shell", "/bin/sh", "--groups", "docker"]
    subprocess.run([*command, "--password", "*", OLD], check=True, capture_output=True)
    (home / ".ssh").mkdir(parents=True)
    shutil.copy(key.with_suffix(".pub"), home / ".ssh" / "authorized_keys")
    subprocess.run(["chown", "-R", f"{OLD}:", str(home)], check=True)
    home.chmod(0o755)


def policy(base: Path, label: str) -> Path:
    etc = base / "etc"
    etc.mkdir(mode=0o700)
    path = etc / "policy.yaml"
    path.write_text(
        f"version: 1\naudit_log: {etc}/audit.jsonl\nstate_dir: {etc}/state\n"
        f"principals:\n  users:\n    {AGENT}: agent\nroles:\n  agent:\n    verbs: [ps]\n"
        f"    containers:\n      labels:\n        - {label}: 'yes'\n"
    )
    path.chmod(0o600)
    return path


@contextmanager
def deployment(stack: ExitStack) -> Iterator[tuple[Path, Path, int]]:
    """(base, client key, sshd port) with both accounts, a broker and sshd; all removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="rshell-ssh-bench-", dir="/tmp"))
    base.chmod(0o755)
    stack.callback(shutil.rmtree, base, ignore_errors=True)
    for name in ("host_key", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)], check=True)
    venv = bench_venv()
    label = f"rshbench.ssh.{secrets.token_hex(3)}"
    client = engine()
    ensure_image(client)
    for _ in range(CONTAINERS):
        container = client.containers.run(IMAGE, ["sleep", "3600"], detach=True, labels={label: "yes"})
        stack.callback(container.remove, force=True)
    subprocess.run(["groupadd", "--system", SOCKET_GROUP], check=False, capture_output=True)  # kept: shared
    sock, _process = stack.enter_context(broker(venv, policy(base, label), SOCKET_GROUP))
    install = [str(venv / "bin" / "rshellctl"), "install-user", AGENT, "--socket-group", SOCKET_GROUP]
    install += ["--launcher", str(base / "bin" / "rshell-login"), "--python", str(venv / "bin" / "python")]
    install += [
        "--socket",
        str(sock),
        "--home",
        str(base / "home" / AGENT),
        "--authorized-key",
        str(base / "client.pub"),
    ]
    stack.callback(_remove_shells_line, str(base / "bin" / "rshell-login"))
    stack.callback(subprocess.run, ["userdel", AGENT], check=False, capture_output=True)
    subprocess.run(install, check=True, capture_output=True)
    stack.callback(subprocess.run, ["userdel", OLD], check=False, capture_output=True)
    make_old_account(base, base / "client")
    port = free_port()
    sshd = Sshd.start(sshd_config(base, port), port)
    stack.callback(sshd.stop)
    yield base, base / "client", port


def _remove_shells_line(line: str) -> None:
    shells = Path("/etc/shells")
    shells.write_text("".join(f"{entry}\n" for entry in shells.read_text().splitlines() if entry.strip() != line))


def ssh(key: Path, port: int, user: str, *args: str, shared: Path | None = None, master: bool = False) -> list[str]:
    sharing = ["-o", "ControlMaster=auto", "-o", f"ControlPath={shared}", "-o", "ControlPersist=10m"] if shared else []
    if master:  # a background master with no session: the command runs only in the timed clients
        sharing = ["-M", "-N", "-f", *sharing]
    return ["ssh", *CLIENT_OPTIONS, "-i", str(key), "-p", str(port), *sharing, f"{user}@127.0.0.1", *args]


def measure(rounds: int) -> list[tuple[str, float]]:
    with ExitStack() as stack, deployment(stack) as (base, key, port):
        agent_cm, old_cm = base / "cm-agent", base / "cm-old"
        for user, path in ((AGENT, agent_cm), (OLD, old_cm)):  # the masters, up before timing starts
            master = ssh(key, port, user, shared=path, master=True)
            subprocess.run(master, check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
            stack.callback(subprocess.run, ["ssh", "-o", f"ControlPath={path}", "-O", "exit", "x"], capture_output=True)
        commands = {
            "ssh host -- ps (rshell, new connection)": run_quiet(ssh(key, port, AGENT, "--", "ps")),
            "ssh host -- ps (rshell, shared connection)": run_quiet(ssh(key, port, AGENT, "--", "ps", shared=agent_cm)),
            "ssh host docker ps (old: docker group, new connection)": run_quiet(ssh(key, port, OLD, "docker", "ps")),
            "ssh host docker ps (old: docker group, shared connection)": run_quiet(
                ssh(key, port, OLD, "docker", "ps", shared=old_cm)
            ),
            "docker ps (local, no ssh)": run_quiet(["docker", "ps"]),
        }
        times = interleaved(commands, rounds)
    return [(name, median_ms(values)) for name, values in times.items()]


def markdown(rows: list[tuple[str, float]], rounds: int) -> str:
    cold = rows[0][1]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {when} on {platform.machine()}, {len(_cpus())} cores, loopback sshd (OpenSSH), medians of"
        f" {rounds} interleaved runs: `.venv/bin/python benchmarks/ssh_latency.py --rounds {rounds}`.",
        "",
        "| command | median ms | x rshell cold |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {ms} | {ms / cold:.2f} |" for name, ms in rows]
    return "\n".join(lines)


def _cpus() -> list[str]:
    return [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("processor")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    print(markdown(measure(rounds), rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
