"""The policy's ``services:`` section: names and own-label selectors, default deny, strict keys."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rshell.ctl import explain
from rshell.policy.loader import parse_policy
from rshell.policy.model import Policy
from rshell.policy.schema import Problems
from rshell.policy.view import Principal, view_for
from rshell.swarm.targets import decide_service

HEADER = "version: 1\nprincipals: {users: {root: op}}\nroles:\n  op:\n    verbs: [ps]\n"


def _parse(services: str) -> tuple[Policy | None, Problems]:
    problems = Problems("p.yaml")
    text = HEADER + textwrap.indent(services, "    ")
    return parse_policy(text, Path("p.yaml"), {"ps": ()}, problems), problems


BAD_SERVICES = [  # (services section, fragment of the error)
    ("services: {label_source: any}\n", "unknown key 'label_source'"),
    ("services: {labels: [{}]}\n", "services.labels[0] is empty and would match everything"),
    ("services: {names: ['a b']}\n", "not a plain ASCII name"),
    ("services: {nodes: [x]}\n", "unknown key 'nodes'"),
]


@pytest.mark.parametrize(("section", "error"), BAD_SERVICES)
def test_bad_services_sections_are_load_errors(section: str, error: str) -> None:
    policy, problems = _parse(section)
    assert policy is None
    assert any(error in message for message in problems.messages), problems.messages


def test_services_are_denied_unless_named_or_selected_by_their_own_labels() -> None:
    policy, _ = _parse("services: {names: [web], labels: [{tier: front}]}\n")
    assert policy is not None
    view = view_for(policy, Principal(0, "root", frozenset()))
    assert decide_service(view, "web", {}).allowed
    assert decide_service(view, "api", {"tier": "front", "x": "y"}).allowed
    assert not decide_service(view, "api", {"tier": "back"}).allowed
    assert not decide_service(view_for(policy, Principal(1, "nobody", frozenset())), "web", {}).allowed
    assert "  services: names web; labels tier=front" in explain(policy)


def test_a_role_without_services_sees_none_and_policy_check_says_nothing_of_them() -> None:
    policy, _ = _parse("containers: {names: [web]}\n")
    assert policy is not None
    assert not decide_service(view_for(policy, Principal(0, "root", frozenset())), "web", {}).allowed
    assert not any("services" in line for line in explain(policy))
