"""Which ollama servers and models a role may manage: the bench targets of its policy and their models.

The model verbs name no server of their own: a target is one of ``settings.bench.targets``, and the
models a role may list, load, unload or pull there are that target's ``models`` (``:cloud`` models
never: they would not run on this hardware).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rshell.bench.policy import is_cloud_model, normalize_model
from rshell.errors import Denied
from rshell.spec import ArgKind, Positional
from rshell.verb import Context

#: the target every model verb names
TARGET = Positional("target", ArgKind.BENCH_TARGET, "an ollama target from the policy")
#: the target and the model that load, unload and pull act on
TARGET_AND_MODEL = (
    TARGET,
    Positional("model", ArgKind.MODEL, "a model the policy allows on that target", max_length=200),
)


@dataclass(frozen=True)
class ModelTarget:
    """One ollama server of the policy and the models a role may manage on it (normalised names)."""

    name: str
    url: str
    models: tuple[str, ...]

    def check_model(self, verb: str, model: str) -> str:
        """The model's normalised name; Denied unless the policy lists it for this target."""
        wanted = normalize_model(model)
        if wanted not in self.models:
            shown = ", ".join(self.models) or "none"
            raise Denied(f"{verb}: model {model!r} is not allowed on target {self.name!r} (allowed: {shown})")
        return wanted


def model_target(ctx: Context, verb: str, name: str) -> ModelTarget:
    """The target called ``name`` among the role's bench targets; Denied when the policy has no such one."""
    targets = ctx.view.settings("bench").get("targets")
    raw = targets.get(name) if isinstance(targets, Mapping) else None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("url"), str):
        known = ", ".join(sorted(targets)) if isinstance(targets, Mapping) and targets else "none"
        raise Denied(f"{verb}: target {name!r} is not in your policy (targets: {known})")
    listed = raw.get("models")
    names = [str(item) for item in listed] if isinstance(listed, (list, tuple)) else []
    models = tuple(dict.fromkeys(normalize_model(item) for item in names if not is_cloud_model(item)))
    return ModelTarget(name=name, url=str(raw["url"]), models=models)
