"""The role key ``approval`` is validated like the rest of the policy, and ``policy check`` explains it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rshell.ctl import explain
from rshell.policy.loader import parse_policy
from rshell.policy.model import Policy
from rshell.policy.schema import Problems
from rshell.policy.view import PolicyView, Principal
from rshell.registry import Registry

ROLE = """\
version: 1
roles:
  agent:
    verbs: [ps, restart]
    approval: {approval}
"""


def parsed(approval: str) -> tuple[Policy | None, list[str]]:
    problems = Problems("p.yaml")
    policy = parse_policy(
        ROLE.format(approval=approval), Path("p.yaml"), Registry.discover().settings_schemas(), problems
    )
    return policy, problems.messages


@pytest.mark.parametrize(
    ("approval", "problem"),
    [
        ("{verbs: [logs], approvers: {groups: [admins]}}", "'logs', which roles.agent.verbs does not grant"),
        ("{verbs: [ps], approvers: {groups: [admins]}}", "'ps', which changes nothing"),
        ("{verbs: [restart], approvers: {}}", "approvers names no user or group"),
        ("{verbs: [restart], approvers: {groups: [admins]}, wait: 500ms}", "approval.wait must be at least 1s"),
        ("{verbs: [restart], approvers: {groups: [admins]}, ttl: 15}", "ttl must be a duration"),
        ("{verbs: [restart], approvers: {groups: [admins]}, quorum: 2}", "unknown key 'quorum'"),
        ("{approvers: {groups: [admins]}}", "missing required key 'verbs'"),
        ("{verbs: [restart], approvers: {groups: ['adm ins']}}", "is not a plain ASCII name"),
        ("{verbs: [restart], approvers: {groups: [admins]}, max_pending: 0}", "max_pending must be at least 1"),
        ("{verbs: [restart], approvers: {groups: [admins]}, max_pending: 1001}", "max_pending must be at most 1000"),
    ],
)
def test_a_wrong_approval_is_one_problem_with_its_line(approval: str, problem: str) -> None:
    policy, messages = parsed(approval)
    assert policy is None
    assert len(messages) == 1
    assert messages[0].startswith("p.yaml:5: ")
    assert problem in messages[0]


def test_policy_check_says_who_approves_what() -> None:
    policy, messages = parsed("{verbs: [restart], approvers: {groups: [admins], users: [alice]}, ttl: 15m, wait: 10m}")
    assert messages == []
    assert policy is not None
    lines = explain(policy)
    assert "  approval: restart run only once approved by group admins, alice (never the requester);" in "\n".join(
        lines
    )
    assert "a request lives 900s, the caller waits 600s (then exit 75)" in "\n".join(lines)


def test_requests_is_allowed_to_a_role_with_approval_only() -> None:
    policy, _ = parsed("{verbs: [restart], approvers: {groups: [admins]}}")
    without = ROLE.partition("    approval:")[0]
    plain = parse_policy(without, Path("p.yaml"), Registry.discover().settings_schemas(), Problems("p.yaml"))
    assert policy is not None
    assert plain is not None
    assert policy.roles["agent"].approval is not None
    assert policy.roles["agent"].approval.max_pending == 8  # the default
    principal = Principal(uid=1000, user="u", groups=frozenset())
    for checked, allowed in ((policy, True), (plain, False)):
        view = PolicyView(principal, checked.roles["agent"], "user 'u'", "unix:///x")
        assert view.decide_verb("requests").allowed is allowed
