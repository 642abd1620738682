"""How a bench is run: which tests, which prompts, which generation options.

The tests follow llama.cpp's llama-bench: ``pp512`` processes about 512 prompt tokens and
generates almost nothing, ``tg128`` generates 128 tokens from a short prompt; each is repeated
(5 times by default, llama-bench's ``-r``) after one untimed warm-up. Through ollama's API the
prompt is text, not synthetic tokens, so its length is calibrated from the warm-up's
``prompt_eval_count`` and the real count is reported. Every request uses ``raw: true`` (no
template), temperature 0 and a fixed seed (docs/api.md, "Reproducible outputs"), and starts with
a fresh nonce so ollama's prompt cache cannot serve a previous run's prefix.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

SEED = 42
WARMUP_RUNS = 1
DEFAULT_RUNS = 5
PP_TOKENS = 512
TG_TOKENS = 128
PP_PREDICT = 1
WARMUP_PREDICT = 8
DEFAULT_TOKENS_PER_WORD = 1.3

BUILTIN_TEXT = (
    "The history of measurement is the history of agreement. Merchants needed weights that two "
    "towns would accept, builders needed lengths that two crews could share, and astronomers "
    "needed clocks that kept the same time on two continents. Each standard began as a local "
    "habit, was written down, was copied, drifted, and was fixed again by a new agreement."
)
BUILTIN_GENERATION_PROMPT = "Write a long, detailed story about a lighthouse keeper who studies the weather."


@dataclass(frozen=True)
class Workload:
    """One test: how many prompt tokens to send (0: a short prompt) and how many to generate."""

    name: str
    prompt_tokens: int
    predict: int


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

    @property
    def total_steps(self) -> int:
        return len(self.models) * (WARMUP_RUNS + len(self.tests) * self.runs)


def workloads(choice: str, max_prompt_tokens: int, max_tokens: int) -> tuple[Workload, ...]:
    """The tests ``--test`` asks for, with the policy's token caps applied (names show real sizes)."""
    prompt_tokens = min(PP_TOKENS, max_prompt_tokens)
    generated = min(TG_TOKENS, max_tokens)
    by_choice = {
        "pp512": Workload(f"pp{prompt_tokens}", prompt_tokens, min(PP_PREDICT, max_tokens)),
        "tg128": Workload(f"tg{generated}", 0, generated),
    }
    return tuple(by_choice.values()) if choice == "all" else (by_choice[choice],)


def generation_options(predict: int) -> dict[str, object]:
    """Deterministic sampling, as ollama's own bench tool and llama-bench measure."""
    return {"temperature": 0, "seed": SEED, "num_predict": predict}


def nonce() -> str:
    return f"[run {secrets.token_hex(8)}]"


class PromptMaker:
    """Builds each run's prompt; learns the words-to-tokens ratio from the warm-up."""

    def __init__(self, prompts: tuple[str, ...]) -> None:
        self._prompts = prompts
        self.tokens_per_word = DEFAULT_TOKENS_PER_WORD

    def warmup(self, prompt_tokens: int) -> str:
        return self.build(Workload("warm-up", prompt_tokens, WARMUP_PREDICT), 0)

    def calibrate(self, prompt: str, prompt_eval_count: int) -> None:
        words = len(prompt.split())
        if words > 0 and prompt_eval_count > 0:
            self.tokens_per_word = prompt_eval_count / words

    def build(self, shape: Workload, run_index: int) -> str:
        source = self._prompts[run_index % len(self._prompts)] if self._prompts else ""
        if shape.prompt_tokens <= 0:
            return f"{nonce()} {source or BUILTIN_GENERATION_PROMPT}"
        words_wanted = max(1, round(shape.prompt_tokens / self.tokens_per_word) - 3)
        return f"{nonce()} {_repeat_words(source or BUILTIN_TEXT, words_wanted)}"


def _repeat_words(text: str, count: int) -> str:
    words = text.split() or BUILTIN_TEXT.split()
    repeated = (words * (count // len(words) + 1))[:count]
    return " ".join(repeated)
