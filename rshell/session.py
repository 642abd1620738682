"""Build a Session for the calling user from the policy file: the one place policy meets process."""

from __future__ import annotations

from pathlib import Path

from rshell.audit import AuditLog
from rshell.engine import Engine
from rshell.executor import Session
from rshell.policy.loader import load_policy
from rshell.policy.view import Principal, view_for
from rshell.ratelimit import RateLimiter
from rshell.registry import Registry


def local_session(policy_path: Path, mode: str, *, allow_owner_uid: int | None = None) -> Session:
    """A session that runs verbs in this process, as the calling unix user."""
    registry = Registry.discover()
    policy = load_policy(policy_path, registry.settings_schemas(), allow_owner_uid=allow_owner_uid)
    view = view_for(policy, Principal.current())
    return Session(
        policy=policy,
        view=view,
        registry=registry,
        engine=Engine(policy.engine_url, policy.engine_timeout),
        audit=AuditLog(policy.audit_log, policy.audit_volume),
        limiter=RateLimiter(policy.state_dir),
        mode=mode,
    )
