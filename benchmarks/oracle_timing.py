"""Does a hidden container answer at a different speed than one that does not exist? (issue 12's oracle)

    sudo .venv/bin/python benchmarks/oracle_timing.py [--samples 600]

Through one broker on its own socket, requests ``logs HIDDEN`` and ``logs NONEXISTENT`` (and the same
for a 12-character ID prefix) are sent interleaved, each on a new connection, in an order that
alternates every round (A B, then B A); every answer must be the denial (exit 126). Prints the
median, quartiles and the difference of the medians for each pair. Not a test: numbers only.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import IMAGE, broker, engine, ensure_image, percentile, write_policy
from rshell.frames import END, frames_of

PREFIX = f"rso{secrets.token_hex(3)}"
#: containers the role may not see, so the engine's list is not trivially short
EXTRA_HIDDEN = 20


def ask(sock: Path, line: str) -> float:
    """One request on a new connection; its wall time in seconds. The answer must be a denial."""
    request = json.dumps({"v": 1, "op": "run", "line": line, "mode": "c", "tty": [False, False]}).encode() + b"\n"
    started = time.perf_counter()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(30)
        conn.connect(str(sock))
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    elapsed = time.perf_counter() - started
    if frames_of(received)[-1:] != [(END, b"126")]:
        raise RuntimeError(f"{line!r} was not denied: {received[-300:]!r}")
    return elapsed


def sample(sock: Path, pairs: dict[str, tuple[str, str]], samples: int) -> dict[str, tuple[list[float], list[float]]]:
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in pairs}
    for hidden, absent in pairs.values():  # warm-up: imports, the first engine connection
        ask(sock, hidden)
        ask(sock, absent)
    for round_number in range(samples):
        for name, (hidden, absent) in pairs.items():
            order = [(0, hidden), (1, absent)]
            for index, line in order if round_number % 2 == 0 else reversed(order):
                times[name][index].append(ask(sock, line))
    return times


def report(name: str, hidden: list[float], absent: list[float]) -> str:
    def shown(values: list[float]) -> str:
        quartiles = f"p25 {percentile(values, 0.25) * 1000:.3f}, p75 {percentile(values, 0.75) * 1000:.3f}"
        return f"median {statistics.median(values) * 1000:.3f} ms ({quartiles})"

    difference = (statistics.median(hidden) - statistics.median(absent)) * 1000
    return (
        f"{name}: hidden {shown(hidden)}; nonexistent {shown(absent)}; "
        f"difference of medians {difference:+.3f} ms over {len(hidden)} interleaved samples each"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=600)
    options = parser.parse_args()
    client = engine()
    ensure_image(client)
    made = []
    work = Path(tempfile.mkdtemp(prefix="rshell-oracle-"))
    try:
        visible = client.containers.run(IMAGE, ["sleep", "3600"], name=f"{PREFIX}-visible", detach=True)
        hidden = client.containers.run(IMAGE, ["sleep", "3600"], name=f"{PREFIX}-hidden", detach=True)
        made += [visible.id, hidden.id]
        for index in range(EXTRA_HIDDEN):
            made.append(client.containers.create(IMAGE, ["true"], name=f"{PREFIX}-other{index}").id)
        policy = write_policy(work / "policy", [f"{PREFIX}-visible"])
        absent_id = next(
            candidate
            for candidate in (secrets.token_hex(6) for _ in range(100))
            if not visible.id.startswith(candidate)
        )
        pairs = {
            "by name": (f"logs {PREFIX}-hidden", f"logs {PREFIX}-nothing"),
            "by 12-char ID prefix": (f"logs {hidden.id[:12]}", f"logs {absent_id}"),
        }
        with broker(Path(sys.prefix), policy) as (sock, _process):
            times = sample(sock, pairs, options.samples)
        for name, (hidden_times, absent_times) in times.items():
            print(report(name, hidden_times, absent_times))
    finally:
        for container_id in made:
            client.api.remove_container(container_id, force=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
