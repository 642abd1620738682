"""One bench per target at a time, across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rshell.bench.lock import target_lock
from rshell.errors import VerbFailed
from tests.bench.helpers import bench_settings, make_context, run_verb
from tests.ollama_server import FakeModel, FakeOllama

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from rshell.bench.lock import target_lock
    with target_lock(Path(sys.argv[1]), "gpu1"):
        print("held", flush=True)
        time.sleep(30)
    """
)


def test_a_second_holder_is_refused_at_once(tmp_path: Path) -> None:
    with (
        target_lock(tmp_path, "gpu1"),
        pytest.raises(VerbFailed, match="'gpu1' is busy"),
        target_lock(tmp_path, "gpu1"),
    ):
        pass


def test_other_targets_and_later_benches_are_not_blocked(tmp_path: Path) -> None:
    with target_lock(tmp_path, "gpu1"), target_lock(tmp_path, "gpu2"):
        pass
    with target_lock(tmp_path, "gpu1"):
        pass


def test_a_bench_in_another_process_makes_this_one_busy(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2]
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with FakeOllama([FakeModel("llama3.2:1b")]) as server:
            outcome = run_verb(make_context(bench_settings(server.url), tmp_path), ["gpu1", "--runs", "1"])
            sent = server.generate_bodies()
    finally:
        holder.kill()
        holder.wait()
    assert isinstance(outcome.error, VerbFailed)
    assert outcome.error.message == "bench: target 'gpu1' is busy: another bench is running on it; try again later"
    assert sent == []
