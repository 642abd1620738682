"""Every prompt of a bench, derived from its seed: reproducible, and never a cache hit.

Ollama reuses the longest prefix a new prompt shares with the previous one in its cache slot
(runner/llamarunner/cache.go LoadCacheSlot; llama-server's cache_n), so each prompt starts with
its own word right after BOS: no two consecutive prompts of a bench share a token beyond BOS. The
words come from a fixed list in an order drawn from ``random.Random(f"{seed}:{model}")``, so the
same seed sends the same prompts. Through ollama's API a prompt is text, so its length is
calibrated from the warm-up's ``prompt_eval_count``; the real count is reported per run.
"""

from __future__ import annotations

import random

from rshell.bench.method import WARMUP_PREDICT, Workload

DEFAULT_TOKENS_PER_WORD = 1.3
BUILTIN_TEXT = (
    "The history of measurement is the history of agreement. Merchants needed weights that two "
    "towns would accept, builders needed lengths that two crews could share, and astronomers "
    "needed clocks that kept the same time on two continents. Each standard began as a local "
    "habit, was written down, was copied, drifted, and was fixed again by a new agreement."
)
BUILTIN_GENERATION_PROMPT = "Write a long, detailed story about a lighthouse keeper who studies the weather."
#: distinct openers, none a prefix of another, so each starts the prompt with a different token
OPENERS: tuple[str, ...] = (
    "Amber",
    "Bridge",
    "Cedar",
    "Dolphin",
    "Ember",
    "Falcon",
    "Garnet",
    "Harbor",
    "Iris",
    "Jasper",
    "Kettle",
    "Lantern",
    "Meadow",
    "Nickel",
    "Orchard",
    "Pepper",
    "Quartz",
    "Raven",
    "Saddle",
    "Timber",
    "Umbra",
    "Velvet",
    "Walnut",
    "Yonder",
    "Zephyr",
    "Anchor",
    "Basil",
    "Copper",
    "Dune",
    "Elm",
    "Fern",
    "Glacier",
    "Hazel",
    "Indigo",
    "Juniper",
    "Kelp",
    "Lilac",
    "Maple",
    "Nutmeg",
    "Olive",
    "Pebble",
    "Quill",
    "Ridge",
    "Sierra",
    "Tulip",
    "Upland",
    "Violet",
    "Willow",
    "Yarrow",
    "Zinc",
    "Acorn",
    "Birch",
    "Canyon",
    "Delta",
    "Egret",
    "Flint",
    "Grove",
    "Heron",
    "Island",
    "Jade",
    "Kiwi",
    "Lotus",
    "Marble",
    "Nectar",
    "Onyx",
    "Prairie",
    "Quince",
    "Reef",
    "Sable",
    "Thistle",
    "Ursa",
    "Vapor",
    "Wren",
    "Yucca",
    "Zinnia",
    "Aspen",
    "Bramble",
    "Coral",
    "Dawn",
    "Echo",
    "Frost",
    "Gull",
    "Hollow",
    "Ivory",
    "Jetty",
    "Koala",
    "Lagoon",
    "Mist",
    "Noble",
    "Opal",
    "Plume",
    "Quest",
    "Rust",
    "Slate",
    "Topaz",
    "Unity",
    "Vista",
    "Wharf",
    "Yeti",
    "Zest",
    "Alder",
    "Beacon",
    "Cobalt",
    "Drift",
    "Estuary",
    "Fjord",
    "Granite",
    "Helm",
    "Inlet",
    "Jolt",
    "Knoll",
    "Ledge",
    "Mosaic",
    "North",
    "Ochre",
    "Pine",
    "Quiver",
    "Rowan",
    "Spruce",
    "Tide",
    "Ulmus",
    "Vine",
    "Wisp",
    "Yew",
    "Zenith",
)


def short_prompt_tokens(prompts: tuple[str, ...]) -> int:
    """A generous estimate of the longest prompt a tg test sends (opener included)."""
    words = max((len(prompt.split()) for prompt in prompts or (BUILTIN_GENERATION_PROMPT,)), default=0)
    return round((words + 2) * DEFAULT_TOKENS_PER_WORD)


class PromptMaker:
    """Builds each run's prompt for one model; learns the words-to-tokens ratio from the warm-up."""

    def __init__(self, prompts: tuple[str, ...], seed: int, model: str) -> None:
        self._prompts = prompts
        self._openers = random.Random(f"{seed}:{model}").sample(OPENERS, len(OPENERS))  # noqa: S311 - reproducible
        self._sent = 0
        self.tokens_per_word = DEFAULT_TOKENS_PER_WORD

    def warmup(self, prompt_tokens: int) -> str:
        return self.build(Workload("warm-up", prompt_tokens, WARMUP_PREDICT), 0)

    def calibrate(self, prompt: str, prompt_eval_count: int) -> None:
        words = len(prompt.split())
        if words > 0 and prompt_eval_count > 0:
            self.tokens_per_word = prompt_eval_count / words

    def depth_context(self, tokens: int, run_index: int) -> str:
        """The context a ``@dN`` test processes before its measured prompt: about ``tokens`` tokens,
        opening with a fresh word like every prompt (so it is evaluated, never reused from a
        previous run)."""
        return self.build(Workload("depth", tokens, 1), run_index)

    def build(self, shape: Workload, run_index: int) -> str:
        """The next prompt: a fresh opener, then the text (a prompt set's prompts in turn)."""
        source = self._prompts[run_index % len(self._prompts)] if self._prompts else ""
        opener = self._opener()
        if shape.prompt_tokens <= 0:
            return f"{opener} {source or BUILTIN_GENERATION_PROMPT}"
        words_wanted = max(1, round(shape.prompt_tokens / self.tokens_per_word) - len(opener.split()))
        return f"{opener} {_repeat_words(source or BUILTIN_TEXT, words_wanted)}"

    def _opener(self) -> str:
        index, self._sent = self._sent, self._sent + 1
        first = self._openers[index % len(self._openers)]
        laps = index // len(self._openers)
        return first if laps == 0 else f"{first} {self._openers[laps % len(self._openers)].lower()}"


def _repeat_words(text: str, count: int) -> str:
    words = text.split() or BUILTIN_TEXT.split()
    repeated = (words * (count // len(words) + 1))[:count]
    return " ".join(repeated)
