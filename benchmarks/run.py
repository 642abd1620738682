"""Run every benchmark against the docker CLI on the same engine and write the results into README.

    sudo .venv/bin/python benchmarks/run.py [--rounds N] [--no-readme]

Each comparison runs interleaved (A B A B ...) after a warm-up; medians and ratios are printed.
The rshell under test is installed normally (not editable) in a venv made from Debian's python3.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rshell.frames import END, frames_of

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    AGENT,
    IMAGE,
    ROOT,
    agent_account,
    bench_venv,
    broker,
    engine,
    ensure_image,
    interleaved,
    median_ms,
    percentile,
    rss_kb,
    run_quiet,
    write_launcher,
    write_policy,
)

#: how the launcher starts the client (rshell.launcher.LOGIN_CODE), without the login checks
CLIENT_ENTRY = "import sys; from rshell.cli import main; sys.exit(main(['rshell', *sys.argv[1:]]))"
LOG_LINES = 100_000
CLIENTS = 200
COMPLETION_CONTAINERS = 1000
PREFIX = f"rsb{os.getpid()}"


def startup(venv: Path, sock: Path, policy: Path, launcher: Path, rounds: int) -> list[dict[str, Any]]:
    python = str(venv / "bin" / "python")
    as_agent = ["setpriv", f"--reuid={AGENT}", f"--regid={AGENT}", "--init-groups", "--"]
    times = interleaved(
        {
            "docker ps": run_quiet(["docker", "ps"]),
            "login path as the agent: launcher -c ps": run_quiet([*as_agent, str(launcher), "-c", "ps"]),
            "broker client: python -I, rshell -c ps": run_quiet(
                [python, "-I", "-c", CLIENT_ENTRY, "--broker", str(sock), "-c", "ps"]
            ),
            "rshell --local -c ps": run_quiet([python, "-I", "-m", "rshell.cli", "--policy", str(policy), "-c", "ps"]),
            "python -I -c pass": run_quiet([python, "-I", "-c", "pass"]),
        },
        rounds,
    )
    base = median_ms(times["docker ps"])
    return [
        {"what": name, "median_ms": median_ms(values), "ratio": round(median_ms(values) / base, 2)}
        for name, values in times.items()
    ]


def peak_rss_kb(argv: list[str]) -> int:
    """Peak RSS of a command, from GNU time (Debian package ``time``): a child spawned from this
    Python process would report this process's own size (vfork, then the old mm at exec)."""
    completed = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, text=True
    )
    return int(completed.stderr.strip().splitlines()[-1])


def logs_throughput(venv: Path, sock: Path, policy: Path, name: str, rounds: int) -> list[dict[str, Any]]:
    python = str(venv / "bin" / "python")
    times = interleaved(
        {
            "docker logs --tail 100000": run_quiet(["docker", "logs", "--tail", str(LOG_LINES), name]),
            "rshell logs --tail 100000 (broker)": run_quiet(
                [python, "-I", "-m", "rshell.cli", "--broker", str(sock), "-c", f"logs {name} --tail {LOG_LINES}"]
            ),
            "rshell --local logs --tail 100000": run_quiet(
                [python, "-I", "-m", "rshell.cli", "--policy", str(policy), "-c", f"logs {name} --tail {LOG_LINES}"]
            ),
        },
        rounds,
    )
    base = median_ms(times["docker logs --tail 100000"])
    rows = []
    for what, values in times.items():
        lines_per_s = round(LOG_LINES / (median_ms(values) / 1000))
        rows.append(
            {
                "what": what,
                "median_ms": median_ms(values),
                "lines_per_s": lines_per_s,
                "throughput_ratio": round(base / median_ms(values), 2),
            }
        )
    return rows


def one_client(sock: Path, latencies: list[float], errors: list[str]) -> None:
    started = time.perf_counter()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(60)
            conn.connect(str(sock))
            conn.sendall(b'{"v":1,"op":"run","line":"ps --json","mode":"c","tty":[false,false]}\n')
            received = b""
            while chunk := conn.recv(65536):  # the broker closes after the end frame
                received += chunk
        if frames_of(received)[-1:] != [(END, b"0")]:
            errors.append(received[-200:].decode(errors="replace"))
    except OSError as error:
        errors.append(str(error))
    latencies.append(time.perf_counter() - started)


def concurrency(sock: Path, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=one_client, args=(sock, latencies, errors)) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "clients": CLIENTS,
        "errors": len(errors),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "broker_rss_mb": round(rss_kb(process.pid) / 1024, 1),
        "broker_peak_rss_mb": round(rss_kb(process.pid, "VmHWM") / 1024, 1),
    }


def completion(client: Any, policy_dir: Path) -> dict[str, Any]:
    """Per-keystroke completion of a container name with 1,000 visible containers, in-process."""
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from rshell.completion import Candidates, SpecCompleter
    from rshell.session import local_session

    label = f"{PREFIX}.completion"
    for index in range(COMPLETION_CONTAINERS):
        client.api.create_container(IMAGE, ["true"], name=f"{PREFIX}-c{index:04d}", labels={label: "yes"})
    policy = write_policy(policy_dir, [], label=label)
    session = local_session(policy, "repl")
    candidates = Candidates(session)
    completer = SpecCompleter(candidates)
    cold, warm = [], []
    for keystrokes in range(1, 11):
        text = f"logs {PREFIX}-c00{keystrokes % 10}"
        candidates._containers = None  # cold: the engine is asked again, as after the cache expires
        started = time.perf_counter()
        found = list(completer.get_completions(Document(text), CompleteEvent(completion_requested=True)))
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        list(completer.get_completions(Document(text), CompleteEvent(completion_requested=True)))
        warm.append(time.perf_counter() - started)
        assert found, "completion found nothing"
    return {"containers": COMPLETION_CONTAINERS, "cold_ms": median_ms(cold), "warm_ms": median_ms(warm)}


def repl_memory(venv: Path, sock: Path, policy: Path) -> dict[str, Any]:
    import pexpect

    result = {}
    for mode, extra in (("broker", ["--broker", str(sock)]), ("local", ["--policy", str(policy)])):
        child = pexpect.spawn(
            str(venv / "bin" / "python"),
            ["-I", "-m", "rshell.cli", *extra],
            env={"TERM": "xterm", "HOME": tempfile.mkdtemp(), "PROMPT_TOOLKIT_NO_CPR": "1"},
            dimensions=(24, 100),
        )
        child.expect("rshell>", timeout=20)
        time.sleep(0.5)
        result[f"idle_repl_{mode}_rss_mb"] = round(rss_kb(child.pid) / 1024, 1)
        child.sendeof()
        child.expect(pexpect.EOF, timeout=10)
    python = str(venv / "bin" / "python")
    result["c_ps_broker_peak_rss_mb"] = round(
        peak_rss_kb([python, "-I", "-m", "rshell.cli", "--broker", str(sock), "-c", "ps"]) / 1024, 1
    )
    result["c_ps_local_peak_rss_mb"] = round(
        peak_rss_kb([python, "-I", "-m", "rshell.cli", "--policy", str(policy), "-c", "ps"]) / 1024, 1
    )
    result["docker_ps_peak_rss_mb"] = round(peak_rss_kb(["docker", "ps"]) / 1024, 1)
    return result


def markdown(results: dict[str, Any]) -> str:
    lines = [f"Latest run: {results['when']} on {results['machine']} (docker {results['docker']}).", ""]
    lines += ["| start-up (`-c ps`) | median ms | x docker ps |", "| --- | --- | --- |"]
    lines += [f"| {row['what']} | {row['median_ms']} | {row['ratio']} |" for row in results["startup"]]
    lines += ["", "| logs, 100,000 lines | median ms | lines/s | throughput x docker |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {row['what']} | {row['median_ms']} | {row['lines_per_s']} | {row['throughput_ratio']} |"
        for row in results["logs"]
    ]
    c = results["concurrency"]
    lines += [
        "",
        f"Broker, {c['clients']} concurrent `ps` clients: p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms, "
        f"{c['errors']} errors, broker RSS {c['broker_rss_mb']} MB (peak {c['broker_peak_rss_mb']} MB).",
    ]
    k = results["completion"]
    lines += [
        f"Completion of a container name with {k['containers']} visible containers: {k['cold_ms']} ms per keystroke "
        f"when the engine is asked (cache expired), {k['warm_ms']} ms from the cache."
    ]
    m = results["memory"]
    lines += [
        f"Memory: idle REPL {m['idle_repl_broker_rss_mb']} MB (broker client) / {m['idle_repl_local_rss_mb']} MB (local); "
        f"peak RSS of `-c ps` {m['c_ps_broker_peak_rss_mb']} MB (broker client) / {m['c_ps_local_peak_rss_mb']} MB (local) "
        f"against {m['docker_ps_peak_rss_mb']} MB for `docker ps`."
    ]
    return "\n".join(lines)


def update_readme(text: str) -> None:
    readme = ROOT / "README.md"
    content = readme.read_text()
    block = f"<!-- benchmarks:start -->\n{text}\n<!-- benchmarks:end -->"
    pattern = re.compile(r"<!-- benchmarks:start -->.*?<!-- benchmarks:end -->", re.DOTALL)
    readme.write_text(
        pattern.sub(lambda _: block, content) if pattern.search(content) else content + "\n" + block + "\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-readme", action="store_true")
    options = parser.parse_args()
    client = engine()
    ensure_image(client)
    venv = bench_venv()
    work = Path(tempfile.mkdtemp(prefix="rshell-bench-"))
    made: list[str] = []
    try:
        logs_name = f"{PREFIX}-logs"
        container = client.containers.run(
            IMAGE, ["sh", "-c", f"seq 1 {LOG_LINES}; sleep 3600"], name=logs_name, detach=True
        )
        made.append(container.id)
        while client.api.logs(container.id, tail=1).strip() != str(LOG_LINES).encode():
            time.sleep(0.1)
        policy = write_policy(work / "policy", [logs_name], agent=AGENT)
        results: dict[str, Any] = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()} (Debian venv)",
            "docker": client.version()["Version"],
        }
        with agent_account() as (group, launcher_dir), broker(venv, policy, group) as (sock, process):
            launcher = write_launcher(venv, launcher_dir, sock)
            results["startup"] = startup(venv, sock, policy, launcher, options.rounds)
            results["logs"] = logs_throughput(venv, sock, policy, logs_name, max(3, options.rounds // 4))
            results["concurrency"] = concurrency(sock, process)
            results["memory"] = repl_memory(venv, sock, policy)
        results["completion"] = completion(client, work / "completion")
    finally:
        for container_id in made:
            client.api.remove_container(container_id, force=True)
        for row in client.api.containers(all=True, filters={"name": f"{PREFIX}-c"}):
            client.api.remove_container(row["Id"], force=True)
    text = markdown(results)
    print(text)
    if not options.no_readme:
        update_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
