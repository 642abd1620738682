"""For ``policy check``: warn when an image on the engine carries a label that a role's selector names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rshell.engine import Engine, translate_engine_error
from rshell.policy.model import LABEL_SOURCE_ANY, Policy, Role

#: policy check must answer quickly even when the engine hangs
CHECK_TIMEOUT_SECONDS = 5.0


def image_label_warnings(policy: Policy) -> list[str]:
    """One line per (image, selector label) pair; one line saying so when the engine cannot be asked."""
    if not any(role.containers.label_selectors for role in policy.roles.values()):
        return []
    engine = Engine(policy.engine_url, min(policy.engine_timeout, CHECK_TIMEOUT_SECONDS))
    try:
        images: list[dict[str, Any]] = engine.client.api.images()
    except Exception as error:  # best effort: the policy itself is still valid
        translated = translate_engine_error(error, policy.engine_url)
        reason = translated.message if translated is not None else str(error).splitlines()[0][:200]
        return [f"note: image labels not checked against the selectors ({reason})"]
    finally:
        engine.close()
    lines: list[str] = []
    for role in policy.roles.values():
        lines += _role_warnings(role, images)
    return lines


def _role_warnings(role: Role, images: Iterable[Mapping[str, Any]]) -> list[str]:
    rule = role.containers
    lines: list[str] = []
    for image in images:
        labels = image.get("Labels") or {}
        shown = _image_name(image)
        for index, selector in enumerate(rule.label_selectors):
            for key, value in selector.items():
                if labels.get(key) != value:
                    continue
                where = f"roles.{role.name}.containers.labels[{index}]"
                if rule.label_source == LABEL_SOURCE_ANY:
                    effect = "every container made from it carries it (label_source: any)"
                else:
                    effect = "label_source: container ignores it on containers made from it, even if set at run time"
                lines.append(f"warning: image {shown} carries label {key}={value} of {where}: {effect}")
    return lines


def _image_name(image: Mapping[str, Any]) -> str:
    tags = [tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"]
    return tags[0] if tags else str(image.get("Id", ""))[7:19] or "?"
