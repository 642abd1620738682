"""Shared pieces of the benchmarks: timing interleaved runs, the engine, a broker, a bench venv."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import yaml

ROOT = Path(__file__).resolve().parent.parent
ENGINE = "unix:///var/run/docker.sock"
IMAGE = "rshell-test/busybox:1"


def engine() -> Any:
    return docker.DockerClient(base_url=ENGINE, version="1.41", timeout=120)


def ensure_image(client: Any) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.support.engine import ensure_image as make

    make(client)


def bench_venv() -> Path:
    """A venv from Debian's python3 with rshell installed normally (no editable finder on start-up)."""
    venv = Path(os.environ.get("RSHELL_BENCH_VENV", "/tmp/rshell-bench-venv"))
    if not (venv / "bin" / "python").exists():
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "--force-reinstall",
            "--no-deps",
            str(ROOT),
        ],
        check=True,
    )
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(ROOT)], check=True)
    return venv


def interleaved(commands: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    """Run each command once per round, in turn (A B A B ...), after one warm-up each."""
    for run in commands.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, run in commands.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return times


def run_quiet(argv: Sequence[str], **kwargs: Any) -> Callable[[], None]:
    def run() -> None:
        completed = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, **kwargs)
        if completed.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {completed.stderr.decode()[:300]}")

    return run


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[index]


def write_policy(
    directory: Path, names: Sequence[str], *, label: str = "", max_lines: int = 100000, agent: str = ""
) -> Path:
    """A policy for root: ps and logs on the named containers (and those carrying ``label=yes``)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    containers: dict[str, Any] = {"names": list(names)}
    if label:
        containers["labels"] = [{label: "yes"}]
    document = {
        "version": 1,
        "audit_log": f"{directory}/audit.jsonl",
        "state_dir": f"{directory}/state",
        "principals": {"users": {"root": "bench", **({agent: "bench"} if agent else {})}},
        "roles": {
            "bench": {
                "verbs": ["ps", "logs"],
                "containers": containers,
                "settings": {"logs": {"max_lines": max_lines}},
            }
        },
    }
    path = directory / "policy.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)
    return path


@contextmanager
def broker(
    venv: Path, policy: Path, group: str = "root", *, prefix: Sequence[str] = ()
) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """rshelld from the venv on a socket of its own, started through ``prefix`` (``nice -n 5``, say);
    its stderr goes to ``rshelld.log`` beside the socket (a pipe nobody reads would block it)."""
    directory = Path(tempfile.mkdtemp(prefix="rshell-bench-"))
    directory.chmod(0o755)
    sock = directory / "rshell.sock"
    command = [*prefix, str(venv / "bin" / "python"), "-I", "-m", "rshell.broker.server", "--policy", str(policy)]
    with (directory / "rshelld.log").open("wb") as log:
        process = subprocess.Popen([*command, "--socket", str(sock), "--socket-group", group], stderr=log, cwd="/")
    deadline = time.monotonic() + 15
    while not sock.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(
                f"rshelld did not start: {(directory / 'rshelld.log').read_text(errors='replace')[-300:]}"
            )
        time.sleep(0.05)
    try:
        yield sock, process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)


AGENT = "rshell-bench"


@contextmanager
def agent_account() -> Iterator[tuple[str, Path]]:
    """A throwaway unprivileged account in its own group and a launcher for it, as production has:
    the login path ``launcher -> env -i -> python -I -m rshell.login -> client`` timed end to end."""
    subprocess.run(["groupadd", "--system", AGENT], check=False, capture_output=True)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "-g", AGENT, "-s", "/usr/sbin/nologin", AGENT],
        check=False,
        capture_output=True,
    )
    directory = Path(tempfile.mkdtemp(prefix="rshell-bench-launcher-"))
    directory.chmod(0o755)
    try:
        yield AGENT, directory
    finally:
        subprocess.run(["userdel", AGENT], check=False, capture_output=True)
        subprocess.run(["groupdel", AGENT], check=False, capture_output=True)


def write_launcher(venv: Path, directory: Path, sock: Path) -> Path:
    launcher = directory / "rshell-login"
    script = (
        "from pathlib import Path; import sys; from rshell.launcher import render_launcher; "
        "sys.stdout.write(render_launcher(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))"
    )
    text = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", script, str(venv / "bin" / "python"), str(launcher), str(sock)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    launcher.write_text(text)
    launcher.chmod(0o755)
    return launcher


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
