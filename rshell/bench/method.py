"""How a bench is run: which tests, which generation options, which context size.

The tests follow llama.cpp's llama-bench: ``pp512`` processes about 512 prompt tokens and
generates one, ``tg128`` generates 128 tokens from a short prompt; each is repeated (5 times by
default, llama-bench's ``-r``) after one untimed warm-up. Every request uses ``raw: true`` (no
template), temperature 0 and the bench's seed (docs/api.md, "Reproducible outputs"), an explicit
``num_ctx`` and ``keep_alive``. The prompts themselves come from rshell.bench.prompts.
"""

from __future__ import annotations

from dataclasses import dataclass

from rshell.bench.matrix import Setup

WARMUP_RUNS = 1
DEFAULT_RUNS = 5
PP_TOKENS = 512
TG_TOKENS = 128
PP_PREDICT = 1
WARMUP_PREDICT = 8
#: a short run (fewer tokens than asked, or no final chunk) is retried with a fresh prompt this often
MAX_RETRIES = 3
#: text prompts are calibrated, not exact: room for a few tokens more than asked
CONTEXT_SLACK = 64


@dataclass(frozen=True)
class Workload:
    """One test: how many prompt tokens to send (0: a short prompt), how many to generate, and the
    context processed (untimed) before it: llama-bench's ``-d`` depth."""

    name: str
    prompt_tokens: int
    predict: int
    depth: int = 0


@dataclass(frozen=True)
class BenchPlan:
    """Everything decided before the first request."""

    models: tuple[str, ...]
    tests: tuple[Workload, ...]
    runs: int
    prompts: tuple[str, ...]
    prompt_source: str
    run_timeout: float
    total_timeout: float
    seed: int = 42
    num_ctx: int = PP_TOKENS + TG_TOKENS + CONTEXT_SLACK
    keep_alive: float = 300.0
    load_timeout: float = 300.0
    server_version: str = "unknown"
    #: the parameter matrix: each setup is benchmarked in turn (num_ctx None there: ``num_ctx``)
    setups: tuple[Setup, ...] = (Setup(),)
    #: concurrent streams per timed run (--parallel)
    parallel: int = 1

    @property
    def total_steps(self) -> int:
        return len(self.models) * len(self.setups) * (WARMUP_RUNS + len(self.tests) * self.runs)

    @property
    def shared_num_ctx(self) -> int | None:
        """The num_ctx every setup uses; None when the matrix varies it."""
        sizes = {setup.num_ctx or self.num_ctx for setup in self.setups}
        return sizes.pop() if len(sizes) == 1 else None

    def request(self, model: str, prompt: str, predict: int, setup: Setup | None = None) -> dict[str, object]:
        """One /api/generate body: raw, deterministic sampling, the setup's runner options and keep-alive pinned."""
        options: dict[str, object] = {"temperature": 0, "seed": self.seed, "num_predict": predict}
        options |= (setup or Setup()).options(self.num_ctx)
        return {
            "model": model,
            "prompt": prompt,
            "raw": True,
            "keep_alive": f"{self.keep_alive:g}s",
            "options": options,
        }


def workloads(
    choice: str,
    max_prompt_tokens: int,
    max_tokens: int,
    pp_sizes: tuple[int, ...] = (),
    tg_sizes: tuple[int, ...] = (),
    *,
    depths: tuple[int, ...] = (),
) -> tuple[Workload, ...]:
    """The tests ``--test`` asks for (``--pp``/``--tg``/``--depth``, as llama-bench's ``-p``/``-n``/``-d``),
    with the policy's token caps applied; names show the real sizes, a depth as llama-bench's
    ``@d4096`` suffix (tools/llama-bench/llama-bench.cpp, the "test" field)."""
    pp = [min(size, max_prompt_tokens) for size in pp_sizes or (PP_TOKENS,)]
    tg = [min(size, max_tokens) for size in tg_sizes or (TG_TOKENS,)]
    tests: list[Workload] = []
    for depth in depths or (0,):
        suffix = f"@d{depth}" if depth else ""
        if choice in ("all", "pp512"):
            tests += [Workload(f"pp{size}{suffix}", size, min(PP_PREDICT, max_tokens), depth) for size in pp]
        if choice in ("all", "tg128"):
            tests += [Workload(f"tg{size}{suffix}", 0, size, depth) for size in tg]
    return tuple(dict.fromkeys(tests))


def default_num_ctx(tests: tuple[Workload, ...], short_prompt_tokens: int = 0) -> int:
    """llama-bench sizes the context as prompt + generation + depth per test; ollama reloads the
    model when num_ctx changes (server/sched.go needsReload), so one size fits every test: the
    largest prompt (``short_prompt_tokens``: an estimate of a tg test's prompt) + the most
    generated tokens (the warm-up's included), plus CONTEXT_SLACK."""
    prompt = max([short_prompt_tokens, *(test.prompt_tokens for test in tests)]) + max(
        [0, *(test.depth for test in tests)]
    )
    generated = max([WARMUP_PREDICT, *(test.predict for test in tests)])
    return prompt + generated + CONTEXT_SLACK
