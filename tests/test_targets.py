"""Target resolution on the real engine: a name, ID or ID prefix is matched among the visible containers only.

Every way of naming a container the policy hides gets 126 and the very message a name that does
not exist gets, so probing reveals nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rshell.targets import NOT_VISIBLE
from tests.support.checks import refusal, success
from tests.support.engine import EngineContainers
from tests.support.shell import audit_records, run_rshell, write_policy


def _id(containers: EngineContainers, suffix: str) -> str:
    return str(containers.client.api.inspect_container(containers.name(suffix))["Id"])


#: ways to name something that must not resolve to a visible container
NOT_VISIBLE_TARGETS: dict[str, Callable[[EngineContainers], str]] = {
    "hidden-by-name": lambda c: c.name("hidden"),
    "hidden-by-full-id": lambda c: _id(c, "hidden"),
    "hidden-by-short-id": lambda c: _id(c, "hidden")[:12],
    "hidden-by-id-prefix": lambda c: _id(c, "hidden")[:5],
    "hidden-by-slash-name": lambda c: "/" + c.name("hidden"),
    "nonexistent-name": lambda c: c.name("nothing-here"),
    "nonexistent-id": lambda c: "0" * 64,
    "name-prefix-of-visible": lambda c: c.name("app")[:-1],
    "cyrillic-look-alike": lambda c: f"{c.prefix}-\u0430pp",
    "fullwidth-look-alike": lambda c: f"{c.prefix}-\uff41pp",
    "latin-alpha-look-alike": lambda c: f"{c.prefix}-\u0251pp",
    "slash-name": lambda c: "/" + c.name("app"),
    "trailing-slash": lambda c: c.name("app") + "/",
    "uppercase": lambda c: c.name("app").upper(),
    "trailing-space": lambda c: c.name("app") + " ",
    "dot": lambda c: ".",
    "dot-dot": lambda c: "..",
    "traversal-to-hidden": lambda c: f"{c.name('app')}/../{c.name('hidden')}",
    "traversal-up": lambda c: f"../containers/{c.name('hidden')}",
    "traversal-to-image": lambda c: "../images/rshell-test/busybox:1",
    "query-string": lambda c: f"{c.name('hidden')}/json?x=",
    "percent-encoded-slash": lambda c: f"{c.name('app')}%2f..%2f{c.name('hidden')}",
    "image-name": lambda c: "rshell-test/busybox:1",
}


@pytest.mark.parametrize("make", list(NOT_VISIBLE_TARGETS.values()), ids=list(NOT_VISIBLE_TARGETS))
@pytest.mark.parametrize("verb", ["logs", "restart"])
def test_not_visible_targets_are_denied_alike(
    policy: Path, policy_dir: Path, containers: EngineContainers, make: Callable[[EngineContainers], str], verb: str
) -> None:
    text = make(containers)
    hidden_started = containers.client.api.inspect_container(containers.name("hidden"))["State"]["StartedAt"]
    outcome = run_rshell(policy, "-c", f"{verb} '{text}'")
    message = refusal(outcome, 126)
    assert message == NOT_VISIBLE.format(text=text), "the same answer as for a name that does not exist"
    assert outcome.stdout == ""
    assert "secret-hidden-output" not in outcome.stderr
    (record,) = audit_records(policy_dir)
    assert (record["decision"], record["exit_code"], record["targets"]) == ("denied", 126, [])
    assert containers.client.api.inspect_container(containers.name("hidden"))["State"]["StartedAt"] == hidden_started


def test_hidden_and_missing_look_the_same_in_json(policy: Path, containers: EngineContainers) -> None:
    hidden = run_rshell(policy, "-c", f"logs {containers.name('hidden')} --json").error()["error"]
    missing = run_rshell(policy, "-c", f"logs {containers.name('nope')} --json").error()["error"]
    assert hidden["code"] == missing["code"] == "denied"
    assert hidden["message"].replace("hidden", "X") == missing["message"].replace("nope", "X")


VISIBLE_TARGETS: dict[str, Callable[[EngineContainers], str]] = {
    "name": lambda c: c.name("app"),
    "full-id": lambda c: _id(c, "app"),
    "short-id": lambda c: _id(c, "app")[:12],
    "label-selected": lambda c: c.name("labelled"),
}


@pytest.mark.parametrize("make", list(VISIBLE_TARGETS.values()), ids=list(VISIBLE_TARGETS))
def test_visible_targets_resolve_to_one_container(
    policy: Path, policy_dir: Path, containers: EngineContainers, make: Callable[[EngineContainers], str]
) -> None:
    text = make(containers)
    expected = containers.name("labelled" if "labelled" in text else "app")
    outcome = success(run_rshell(policy, "-c", f"logs {text} --tail 1 --json"))
    assert outcome.json()["container"] == expected
    (record,) = audit_records(policy_dir)
    assert record["targets"] == [{"id": _id(containers, expected.rsplit("-", 1)[1]), "name": expected}]
    assert record["decision"] == "allowed"


def _twin(containers: EngineContainers, of: str, stem: str) -> Any:
    """Create stopped containers until one's ID starts with the same character as ``of``; return it."""
    for attempt in range(200):
        made = containers.run(f"{stem}{attempt}", "true", start=False)
        if made.id[0] == of[0]:
            return made
    raise AssertionError("could not make a container sharing the prefix")


def _names_policy(policy_dir: Path, *names: str) -> Path:
    """root may run logs on exactly these containers."""
    role = f"{{verbs: [logs], containers: {{names: [{', '.join(names)}]}}}}"
    return write_policy(policy_dir, f"principals: {{users: {{root: viewer}}}}\nroles:\n  viewer: {role}\n")


def test_id_prefix_shared_by_two_visible_containers_is_denied(policy_dir: Path, containers: EngineContainers) -> None:
    """Ambiguity among the containers the caller sees is an answer like any other: not visible."""
    app = _id(containers, "app")
    twin = _twin(containers, app, "vtwin")
    policy = _names_policy(policy_dir, containers.name("app"), twin.name)
    message = refusal(run_rshell(policy, "-c", f"logs {app[0]}"), 126)
    assert message == NOT_VISIBLE.format(text=app[0])


def test_id_prefix_shared_with_a_hidden_container_resolves_to_the_visible_one(
    policy_dir: Path, containers: EngineContainers
) -> None:
    """Prefixes are matched among visible containers only: a hidden twin is neither found nor makes it ambiguous."""
    app = _id(containers, "app")
    hidden = str(_twin(containers, app, "htwin").id)
    policy = _names_policy(policy_dir, containers.name("app"))
    shared = next(app[:n] for n in range(1, 64) if hidden[: n + 1] != app[: n + 1])
    outcome = success(run_rshell(policy, "-c", f"logs {shared} --tail 1 --json"))
    assert outcome.json()["container"] == containers.name("app")
    hidden_only = hidden[: len(shared) + 1]
    message = refusal(run_rshell(policy, "-c", f"logs {hidden_only}"), 126)
    assert message == NOT_VISIBLE.format(text=hidden_only)
