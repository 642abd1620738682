"""``containers.label_source``: label selectors see the container's own labels unless the policy says ``any``.

An image's labels are merged into every container made from it, so whoever builds an image would
otherwise decide which containers a role sees. A label counts as the container's own when the image
does not carry the same key with the same value.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from rshell.targets import NOT_VISIBLE
from tests.support.checks import refusal, success
from tests.support.engine import IMAGE, EngineContainers
from tests.support.shell import Outcome, run_rshell, write_policy

KEY = "rshtest.source"


@dataclass(frozen=True)
class Labelled:
    """An image carrying KEY=image, and containers made from it with and without labels of their own."""

    containers: EngineContainers
    image: str

    def name(self, suffix: str) -> str:
        return self.containers.name(suffix)


@pytest.fixture(scope="module")
def labelled(engine: Any) -> Iterator[Labelled]:
    made = EngineContainers(engine)
    base = engine.containers.create(IMAGE, ["true"])
    image = f"rshtest-source:{made.prefix}"
    engine.api.commit(base.id, repository="rshtest-source", tag=made.prefix, changes=[f"LABEL {KEY}=image"])
    base.remove()
    for suffix, labels in (("bare", {}), ("same", {KEY: "image"}), ("other", {KEY: "run"})):
        created = engine.containers.create(
            image, ["sh", "-c", "echo up; sleep 3600"], name=made.name(suffix), labels=labels
        )
        made.made.append(created.id)
    plain = made.run("plain", "echo up; sleep 3600", labels={KEY: "image"})  # from the unlabelled test image
    assert plain.id
    try:
        yield Labelled(made, image)
    finally:
        made.remove_all()
        with contextlib.suppress(docker.errors.APIError):
            engine.api.remove_image(image, force=True)


def _policy(directory: Path, value: str, source: str | None, verbs: str = "ps") -> Path:
    line = f"\n      label_source: {source}" if source else ""
    body = f"""\
principals: {{users: {{root: viewer}}}}
roles:
  viewer:
    verbs: [{verbs}]
    containers:
      labels:
        - {KEY}: "{value}"{line}
"""
    return write_policy(directory, body)


#: (selector value, label_source, containers ps --all shows): the image says KEY=image
SOURCES = [
    (
        "image",
        None,
        ["plain"],
    ),  # the default is "container": only plain set KEY=image itself and differs from its image
    ("image", "container", ["plain"]),
    ("image", "any", ["bare", "plain", "same"]),
    ("run", None, ["other"]),  # a value set at run time that differs from the image's is the container's own
    ("run", "any", ["other"]),
]


@pytest.mark.parametrize(("value", "source", "visible"), SOURCES)
def test_label_source_decides_which_labels_select(
    policy_dir: Path, labelled: Labelled, value: str, source: str | None, visible: list[str]
) -> None:
    outcome = success(run_rshell(_policy(policy_dir, value, source), "-c", "ps --all --json"))
    shown = sorted(row["name"] for row in outcome.json()["containers"] if row["name"].startswith(labelled.name("")))
    assert shown == [labelled.name(suffix) for suffix in visible]


def test_inherited_label_target_is_not_visible_by_default(policy_dir: Path, labelled: Labelled) -> None:
    text = labelled.name("bare")
    message = refusal(run_rshell(_policy(policy_dir, "image", None, "logs"), "-c", f"logs {text}"), 126)
    assert message == NOT_VISIBLE.format(text=text)


def _policy_check(path: Path) -> Outcome:
    completed = subprocess.run(
        [sys.executable, "-I", "-m", "rshell.ctl", "policy", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return Outcome(completed.returncode, completed.stdout, completed.stderr)


@pytest.mark.parametrize(
    ("source", "effect"),
    [(None, "label_source: container ignores it"), ("any", "every container made from it carries it")],
)
def test_policy_check_warns_about_an_image_carrying_a_selector_label(
    policy_dir: Path, labelled: Labelled, source: str | None, effect: str
) -> None:
    outcome = success(_policy_check(_policy(policy_dir, "image", source)))
    warnings = [line for line in outcome.stdout.splitlines() if line.startswith("warning: ")]
    expected = f"warning: image {labelled.image} carries label {KEY}=image of roles.viewer.containers.labels[0]: "
    assert [line for line in warnings if line.startswith(expected)] != []
    assert all(effect in line for line in warnings if line.startswith(expected))
    assert outcome.stdout.splitlines()[-1] == "everything not listed is denied"


def test_policy_check_says_in_one_line_when_the_engine_cannot_be_asked(policy_dir: Path) -> None:
    path = _policy(policy_dir, "image", None)
    path.write_text(path.read_text().replace("unix:///var/run/docker.sock", f"unix://{policy_dir}/no-engine.sock"))
    outcome = success(_policy_check(path))
    notes = [line for line in outcome.stdout.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: image labels not checked against the selectors (cannot reach the Docker engine at unix://{policy_dir}/no-engine.sock)"
    ]
    assert outcome.stdout.splitlines()[-1] == "everything not listed is denied"


@pytest.mark.parametrize("value", ["image", "Container", "''", "[any]", "true"])
def test_an_unknown_label_source_is_a_load_error(policy_dir: Path, value: str) -> None:
    path = _policy(policy_dir, "x", value)
    outcome = _policy_check(path)
    assert outcome.status == 1, outcome.stdout
    assert "containers.label_source must be" in outcome.stdout
    refusal(run_rshell(path, "-c", "ps"), 1, "label_source must be")
