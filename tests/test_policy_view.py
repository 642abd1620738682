"""Default deny: a user without a role gets only help/exit; a verb outside the role is denied with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from rshell.policy.model import ContainerRule, Policy, Role
from rshell.policy.view import Principal, view_for
from tests.support.checks import refusal, success
from tests.support.engine import EngineContainers
from tests.support.shell import as_user, audit_records, run_rshell, write_policy, write_shared_policy

NOBODY = as_user("nobody", "nogroup")
ONLY_ROOT = "principals:\n  users: {root: operator}\nroles:\n  operator: {verbs: [ps, logs, restart]}\n"


@pytest.mark.parametrize("line", ["ps", "ps --json", "logs app", "restart app", "logs app --tail 1", "vram"])
def test_user_without_a_role_is_denied_every_verb(public_dir: Path, line: str) -> None:
    path, var = write_shared_policy(public_dir, ONLY_ROOT, writer_uid=65534)
    outcome = run_rshell(path, "-c", line, prefix=NOBODY)
    refusal(outcome, 126, "user 'nobody' has no role in the policy", json_error="--json" in line)
    (record,) = audit_records(var)
    assert (record["uid"], record["user"], record["decision"], record["exit_code"]) == (65534, "nobody", "denied", 126)
    assert record["targets"] == []


def test_user_without_a_role_gets_only_help_and_exit(public_dir: Path) -> None:
    path, _ = write_shared_policy(public_dir, ONLY_ROOT, writer_uid=65534)
    refusal(run_rshell(path, "-c", "whoami --json", prefix=NOBODY), 126, "has no role", json_error=True)
    document = success(run_rshell(path, "-c", "help --json", prefix=NOBODY)).json()
    assert [row["verb"] for row in document["verbs"]] == ["exit", "help", "quit"]
    assert "You have no role: user 'nobody' has no role in the policy" in document["note"]


def test_a_group_entry_gives_the_role(public_dir: Path) -> None:
    body = "principals:\n  groups: {nogroup: viewer}\nroles:\n  viewer: {verbs: [ps]}\n"
    path, _ = write_shared_policy(public_dir, body, writer_uid=65534)
    document = success(run_rshell(path, "-c", "whoami --json", prefix=NOBODY)).json()
    assert (document["role"], document["role_reason"]) == ("viewer", "group entry")
    assert "ps" in document["verbs"]
    assert "logs" not in document["verbs"]


@pytest.mark.parametrize(("line", "verb"), [("logs APP", "logs"), ("restart APP", "restart"), ("logs HIDDEN", "logs")])
def test_verb_outside_the_role_is_denied_with_the_reason(
    policy_dir: Path, containers: EngineContainers, line: str, verb: str
) -> None:
    body = "principals:\n  users: {root: viewer}\nroles:\n  viewer:\n    verbs: [ps]\n"
    body += f"    containers: {{names: [{containers.name('app')}]}}\n"
    path = write_policy(policy_dir, body)
    before = containers.client.api.inspect_container(containers.name("app"))["State"]["StartedAt"]
    text = line.replace("APP", containers.name("app")).replace("HIDDEN", containers.name("hidden"))
    outcome = run_rshell(path, "-c", text)
    refusal(outcome, 126, f"role 'viewer' does not allow {verb!r}")
    assert outcome.stdout == ""
    assert containers.client.api.inspect_container(containers.name("app"))["State"]["StartedAt"] == before
    assert audit_records(policy_dir)[-1]["reason"] == f"role 'viewer' does not allow {verb!r}"


def test_help_for_a_verb_outside_the_role_is_unknown(policy_dir: Path) -> None:
    path = write_policy(policy_dir, "principals:\n  users: {root: viewer}\nroles:\n  viewer: {verbs: [ps]}\n")
    refusal(run_rshell(path, "-c", "help restart"), 127, "unknown verb 'restart' (type 'help'")


# --- the view itself ------------------------------------------------------------------------------


def _policy(users: dict[str, str], groups: dict[str, str]) -> Policy:
    roles = {name: Role(name, frozenset({"ps"}), ContainerRule()) for name in ("a", "b")}
    return Policy(Path("/p"), "unix:///x", 1.0, Path("/a"), Path("/s"), users, groups, roles)


@pytest.mark.parametrize(
    ("users", "groups", "member_of", "role", "reason"),
    [
        ({}, {}, set(), None, "has no role"),
        ({"alice": "a"}, {"ops": "b"}, {"ops"}, "a", "user 'alice'"),
        ({}, {"ops": "a", "dev": "a"}, {"ops", "dev"}, "a", "group entry"),
        ({}, {"ops": "a", "dev": "b"}, {"ops", "dev"}, None, "several roles (a, b)"),
        ({"Alice": "a"}, {}, set(), None, "has no role"),
    ],
    ids=["nothing", "user-wins", "groups-agree", "groups-conflict", "case-matters"],
)
def test_view_for_picks_one_role_or_none(
    users: dict[str, str], groups: dict[str, str], member_of: set[str], role: str | None, reason: str
) -> None:
    view = view_for(_policy(users, groups), Principal(1000, "alice", frozenset(member_of)))
    assert view.role_name == role
    assert reason in view.role_reason
    assert view.decide_verb("ps").allowed is (role is not None)
    assert view.decide_verb("whoami").allowed is (role is not None)
    assert view.decide_verb("help").allowed


@pytest.mark.parametrize(
    ("name", "labels", "allowed"),
    [
        ("app", {}, True),
        ("App", {}, False),
        ("app ", {}, False),
        ("\u0430pp", {}, False),
        ("x", {"tier": "web", "rshell.visible": "true"}, True),
        ("x", {"tier": "web"}, False),
        ("x", {"tier": "web", "rshell.visible": "True"}, False),
        ("x", {"tier": "db", "rshell.visible": "true"}, False),
        ("x", {}, False),
    ],
)
def test_container_rule_matches_exact_names_and_whole_selectors(
    name: str, labels: dict[str, str], allowed: bool
) -> None:
    rule = ContainerRule(frozenset({"app"}), ({"tier": "web", "rshell.visible": "true"},))
    role = Role("r", frozenset(), rule)
    view = view_for(
        Policy(Path("/p"), "unix:///x", 1.0, Path("/a"), Path("/s"), {"u": "r"}, {}, {"r": role}),
        Principal(1, "u", frozenset()),
    )
    decision = view.decide_container(name, labels)
    assert decision.allowed is allowed
    assert decision.reason
