"""The bench settings in the policy: their schema, and the decisions made from them.

A target is a named ollama server with the models a role may benchmark on it. Anything not
listed is denied; ``:cloud`` models are always denied (they would run on someone else's hardware
and cannot be measured as local performance).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from rshell.errors import Denied, UsageError
from rshell.policy.schema import Field, Kind

#: target names: plain names, but never a sub-command word
TARGET_NAME = re.compile(r"(?!(?:history|compare)$)[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
SUBCOMMANDS = ("history", "compare")

_TARGET = Field(
    "target",
    Kind.OBJECT,
    fields=(
        Field("url", Kind.URL, "the ollama server, e.g. http://127.0.0.1:11434", required=True),
        Field(
            "models",
            Kind.LIST,
            "models that may be benchmarked",
            items=Field("model", Kind.STRING, max_length=200),
            default=[],
        ),
        Field(
            "prompt_sets",
            Kind.MAP,
            "named lists of prompts (--prompt-set NAME)",
            items=Field("prompts", Kind.LIST, items=Field("prompt", Kind.STRING, max_length=16384)),
            default={},
        ),
        Field(
            "max_prompt_tokens", Kind.INTEGER, "cap on prompt tokens per run", default=2048, minimum=1, maximum=131072
        ),
        Field("max_tokens", Kind.INTEGER, "cap on generated tokens per run", default=512, minimum=1, maximum=131072),
        Field("run_timeout", Kind.DURATION, "time allowed for one run", default=120.0),
        Field("load_timeout", Kind.DURATION, "time allowed for the warm-up, which may load the model", default=300.0),
        Field("keep_alive", Kind.DURATION, "keep_alive sent with every request", default=300.0),
        Field("max_num_ctx", Kind.INTEGER, "cap on --num-ctx", default=131072, minimum=1, maximum=1048576),
        Field("max_num_gpu", Kind.INTEGER, "cap on --num-gpu (layers)", default=999, minimum=0, maximum=100000),
        Field("max_num_batch", Kind.INTEGER, "cap on --num-batch", default=4096, minimum=1, maximum=1048576),
        Field("max_num_thread", Kind.INTEGER, "cap on --num-thread", default=64, minimum=1, maximum=4096),
        Field("max_matrix", Kind.INTEGER, "cap on option combinations per bench", default=8, minimum=1, maximum=256),
        Field("max_parallel", Kind.INTEGER, "cap on --parallel streams", default=4, minimum=1, maximum=64),
        Field("max_depth", Kind.INTEGER, "cap on --depth (tokens)", default=32768, minimum=0, maximum=1048576),
        Field("total_timeout", Kind.DURATION, "time allowed for the whole bench", default=1800.0),
        Field("allow_custom_prompts", Kind.BOOLEAN, "whether --prompt TEXT is accepted", default=False),
        Field(
            "max_prompt_length",
            Kind.INTEGER,
            "cap on --prompt length (characters)",
            default=2000,
            minimum=1,
            maximum=16384,
        ),
    ),
)

SETTINGS: tuple[Field, ...] = (
    Field("targets", Kind.MAP, "bench targets by name", items=_TARGET, default={}, key_pattern=TARGET_NAME),
)


@dataclass(frozen=True)
class TargetPolicy:
    """One target as the policy allows it; every setting not given has the schema's default (_TARGET)."""

    name: str
    url: str
    models: tuple[str, ...]
    prompt_sets: Mapping[str, tuple[str, ...]]
    max_prompt_tokens: int
    max_tokens: int
    run_timeout: float
    total_timeout: float
    load_timeout: float
    keep_alive: float
    max_num_ctx: int
    max_depth: int
    max_num_gpu: int
    max_num_batch: int
    max_num_thread: int
    max_matrix: int
    max_parallel: int
    allow_custom_prompts: bool
    max_prompt_length: int

    def check_model(self, model: str) -> None:
        """Raise Denied unless the policy lists this model for this target."""
        if is_cloud_model(model):
            raise Denied(f"bench: {model!r} is a :cloud model; only local models can be benchmarked")
        allowed = {normalize_model(name) for name in self.models if not is_cloud_model(name)}
        if normalize_model(model) not in allowed:
            shown = ", ".join(self.local_models) or "none"
            raise Denied(f"bench: model {model!r} is not allowed on target {self.name!r} (allowed: {shown})")

    @property
    def local_models(self) -> tuple[str, ...]:
        return tuple(name for name in self.models if not is_cloud_model(name))

    @property
    def option_caps(self) -> dict[str, int]:
        """The most each runner option of the matrix may be (rshell.bench.matrix)."""
        return {
            "num_ctx": self.max_num_ctx,
            "num_gpu": self.max_num_gpu,
            "num_batch": self.max_num_batch,
            "num_thread": self.max_num_thread,
        }

    def check_parallel(self, streams: int) -> None:
        if streams > self.max_parallel:
            raise Denied(f"bench: --parallel {streams} is more than target {self.name!r} allows ({self.max_parallel})")

    def check_depths(self, depths: tuple[int, ...]) -> None:
        for depth in depths:
            if depth > self.max_depth:
                raise Denied(f"bench: --depth {depth} is more than target {self.name!r} allows ({self.max_depth})")

    def choose_prompts(self, set_name: str | None, custom: str | None) -> tuple[tuple[str, ...], str]:
        """The prompts to use and where they come from: built in, a named set, or the user's own."""
        if set_name is not None and custom is not None:
            raise UsageError("bench: give --prompt-set or --prompt, not both")
        if custom is not None:
            if not self.allow_custom_prompts:
                raise Denied(f"bench: target {self.name!r} does not allow custom prompts (use --prompt-set)")
            if len(custom) > self.max_prompt_length:
                raise Denied(f"bench: --prompt is longer than the policy allows ({self.max_prompt_length} characters)")
            return (custom,), "custom"
        if set_name is None:
            return (), "built-in"
        if set_name not in self.prompt_sets:
            known = ", ".join(sorted(self.prompt_sets)) or "none"
            raise Denied(f"bench: prompt set {set_name!r} is not defined for target {self.name!r} (defined: {known})")
        return self.prompt_sets[set_name], f"set {set_name}"


def target_policy(settings: Mapping[str, object], name: str) -> TargetPolicy:
    """The target called ``name`` in the bench settings; Denied when the policy does not list it."""
    targets = settings.get("targets")
    raw = targets.get(name) if isinstance(targets, Mapping) and name not in SUBCOMMANDS else None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("url"), str):
        known = ", ".join(sorted(targets)) if isinstance(targets, Mapping) and targets else "none"
        raise Denied(f"bench: target {name!r} is not in your policy (targets: {known})")
    return TargetPolicy(
        name=name,
        url=str(raw["url"]),
        models=_strings(raw.get("models")),
        prompt_sets=_prompt_sets(raw.get("prompt_sets")),
        max_prompt_tokens=_int(raw, "max_prompt_tokens"),
        max_tokens=_int(raw, "max_tokens"),
        run_timeout=_seconds(raw, "run_timeout"),
        total_timeout=_seconds(raw, "total_timeout"),
        load_timeout=_seconds(raw, "load_timeout"),
        keep_alive=_seconds(raw, "keep_alive"),
        max_num_ctx=_int(raw, "max_num_ctx"),
        max_depth=_int(raw, "max_depth"),
        max_num_gpu=_int(raw, "max_num_gpu"),
        max_num_batch=_int(raw, "max_num_batch"),
        max_num_thread=_int(raw, "max_num_thread"),
        max_matrix=_int(raw, "max_matrix"),
        max_parallel=_int(raw, "max_parallel"),
        allow_custom_prompts=raw.get("allow_custom_prompts") is True,
        max_prompt_length=_int(raw, "max_prompt_length"),
    )


def is_cloud_model(model: str) -> bool:
    """``:cloud`` and ``:...-cloud`` tags, in any case (ollama's names are case-insensitive)."""
    tag = model.rpartition(":")[2].lower() if ":" in model else ""
    return tag == "cloud" or tag.endswith("-cloud")


def normalize_model(model: str) -> str:
    """``llama3.2`` and ``llama3.2:latest`` are the same model (docs/api.md, "Model names")."""
    return model if ":" in model.rpartition("/")[2] else f"{model}:latest"


#: each target setting's default, from the schema (the one place they are written)
DEFAULTS: Mapping[str, object] = {setting.name: setting.default for setting in _TARGET.fields}


def _int(raw: Mapping[str, object], key: str) -> int:
    value = raw.get(key, DEFAULTS[key])
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    default = DEFAULTS[key]
    assert isinstance(default, int)
    return default


def _seconds(raw: Mapping[str, object], key: str) -> float:
    value = raw.get(key, DEFAULTS[key])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    default = DEFAULTS[key]
    assert isinstance(default, float)
    return default


def _strings(value: object) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, (list, tuple)) else ()


def _prompt_sets(value: object) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        return {}
    return {str(name): _strings(prompts) for name, prompts in value.items() if _strings(prompts)}
