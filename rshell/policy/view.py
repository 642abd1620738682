"""Who the caller is, which role they hold, and every decision with its reason."""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass

from rshell.errors import VerbFailed
from rshell.policy.model import (
    ALWAYS_ALLOWED,
    APPROVAL_ALLOWED,
    ROLELESS_ALLOWED,
    ContainerRule,
    Policy,
    RateLimit,
    Role,
)

#: the files the user and group lookups read on a host without a directory service
USER_DATABASE = ("/etc/passwd", "/etc/group")


@dataclass(frozen=True)
class Principal:
    """A unix user as the kernel reports it, with the groups it belongs to."""

    uid: int
    user: str
    groups: frozenset[str]

    @classmethod
    def from_uid(cls, uid: int, gid: int | None = None) -> Principal:
        """The user and groups of ``uid`` from the user database: its primary group (``pw_gid``) and
        the groups that list it. ``gid`` (a peer's egid, which a caller may set to any group it can
        switch to, e.g. through a setgid program) is deliberately not used."""
        del gid
        try:
            entry = pwd.getpwuid(uid)
        except KeyError:
            _user_database_readable()  # out of descriptors, getpwuid fails as "not found": not "no role"
            return cls(uid, f"uid:{uid}", frozenset())
        try:
            group_ids = os.getgrouplist(entry.pw_name, entry.pw_gid)
        except OSError as error:
            raise VerbFailed(f"cannot identify the caller ({error.strerror or error})") from None
        groups = frozenset(_group_name(group_id) for group_id in group_ids)
        if any(name.startswith("gid:") for name in groups):
            _user_database_readable()
        return cls(uid, entry.pw_name, groups)

    @classmethod
    def current(cls) -> Principal:
        return cls.from_uid(os.getuid(), os.getgid())


def _user_database_readable() -> None:
    """Python's pwd and grp report every failed lookup as "not found"; opening the files tells an
    unknown user from a database out of reach (EMFILE, ENFILE, EACCES): VerbFailed, exit 1."""
    for path in USER_DATABASE:
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
        except FileNotFoundError:
            continue
        except OSError as error:
            raise VerbFailed(f"cannot identify the caller ({path}: {error.strerror or error})") from None


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid:{gid}"


@dataclass(frozen=True)
class Decision:
    """Every decision says whether, why, and which rule made it."""

    allowed: bool
    reason: str
    rule: str = ""


@dataclass(frozen=True)
class PolicyView:
    """The policy as one principal sees it. A role of None means every verb but help and exit is denied."""

    principal: Principal
    role: Role | None
    role_reason: str
    engine_url: str

    @property
    def role_name(self) -> str | None:
        return self.role.name if self.role else None

    def allowed_verbs(self, registered: set[str]) -> list[str]:
        return sorted(verb for verb in registered if self.decide_verb(verb).allowed)

    def decide_verb(self, verb: str) -> Decision:
        if self.role is None:  # no role: help and exit only
            if verb in ROLELESS_ALLOWED:
                return Decision(True, f"{verb} is always allowed", "built-in")
            return Decision(False, self.role_reason, "default deny")
        if verb in ALWAYS_ALLOWED:
            return Decision(True, f"{verb} is always allowed", "built-in")
        if verb in APPROVAL_ALLOWED and self.role.approval is not None:
            return Decision(True, f"{verb} is allowed to a role with approval", f"roles.{self.role.name}.approval")
        if verb in self.role.verbs:
            return Decision(True, f"role {self.role.name!r} lists {verb!r}", f"roles.{self.role.name}.verbs")
        return Decision(False, f"role {self.role.name!r} does not allow {verb!r}", "default deny")

    def decide_container(self, name: str, labels: Mapping[str, str]) -> Decision:
        rule = self.containers.match(name, labels)
        if rule is None:
            return Decision(False, f"container {name!r} is not visible to you", "default deny")
        assert self.role is not None
        return Decision(True, f"role {self.role.name!r}: {rule}", f"roles.{self.role.name}.{rule}")

    @property
    def containers(self) -> ContainerRule:
        return self.role.containers if self.role else ContainerRule()

    def limit(self, verb: str) -> RateLimit | None:
        return self.role.limits.get(verb) if self.role else None

    def settings(self, verb: str) -> Mapping[str, object]:
        return self.role.settings.get(verb, {}) if self.role else {}


def view_for(policy: Policy, principal: Principal) -> PolicyView:
    """Pick the principal's role: a user entry wins; otherwise its groups must agree on one role."""
    if principal.user in policy.users:
        role_name = policy.users[principal.user]
        return PolicyView(principal, policy.roles[role_name], f"user {principal.user!r}", policy.engine_url)
    group_roles = {policy.groups[group] for group in principal.groups if group in policy.groups}
    if len(group_roles) == 1:
        role_name = group_roles.pop()
        return PolicyView(principal, policy.roles[role_name], "group entry", policy.engine_url)
    if group_roles:
        reason = f"your groups map to several roles ({', '.join(sorted(group_roles))}); the policy must name your user"
    else:
        reason = f"user {principal.user!r} has no role in the policy"
    return PolicyView(principal, None, reason, policy.engine_url)
