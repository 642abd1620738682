"""What the broker holds: the policy (reloadable), the verbs, the engine, the audit log, the limits."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from rshell.audit import AuditLog
from rshell.broker.cancelwatch import CancelWatcher
from rshell.engine import BROKER_LIST_TTL_SECONDS, Engine
from rshell.errors import PolicyError
from rshell.executor import Session
from rshell.policy.loader import load_policy
from rshell.policy.model import Policy
from rshell.policy.view import Principal, view_for
from rshell.ratelimit import RateLimiter
from rshell.registry import Registry
from rshell.verb import CancelSignal

ENGINE_POOL_SIZE = 64
#: how long a uid's user and groups, read from the user database, are reused (a group change
#: reaches the broker within this time; SIGHUP forgets them at once)
PRINCIPAL_TTL_SECONDS = 5.0


class BrokerState:
    def __init__(self, policy_path: Path, *, send_timeout: float = 60.0) -> None:
        self.policy_path = policy_path
        self.send_timeout = send_timeout
        self.registry = Registry.discover()
        self._lock = threading.Lock()
        self.policy = self._load()
        self.engine = _engine(self.policy)
        self.audit = AuditLog(self.policy.audit_log)
        self.limiter = RateLimiter(self.policy.state_dir)
        self._principals: dict[tuple[int, int], tuple[float, Principal]] = {}
        self.cancel_watcher = CancelWatcher()

    def principal(self, uid: int, gid: int) -> Principal:
        """The user and groups of a uid, from the user database, briefly cached per (uid, gid)."""
        now = time.monotonic()
        with self._lock:
            cached = self._principals.get((uid, gid))
            if cached is not None and now - cached[0] < PRINCIPAL_TTL_SECONDS:
                return cached[1]
        principal = Principal.from_uid(uid, gid)
        with self._lock:
            self._principals[(uid, gid)] = (now, principal)
        return principal

    def _load(self) -> Policy:
        return load_policy(self.policy_path, self.registry.settings_schemas())

    def reload(self) -> bool:
        """Load the policy again; a policy that fails validation leaves the old one in force."""
        try:
            policy = self._load()
        except PolicyError as error:
            log(f"policy reload rejected, the previous policy stays in force: {error.message}")
            return False
        with self._lock:
            if (policy.engine_url, policy.engine_timeout) != (self.policy.engine_url, self.policy.engine_timeout):
                self.engine = _engine(policy)
            if policy.audit_log != self.policy.audit_log:
                self.audit = AuditLog(policy.audit_log)
            if policy.state_dir != self.policy.state_dir:
                self.limiter = RateLimiter(policy.state_dir)
            self.policy = policy
            self._principals.clear()
        log(f"policy reloaded from {self.policy_path}")
        return True

    def session_for(self, principal: Principal, mode: str) -> Session:
        with self._lock:
            return Session(
                policy=self.policy,
                view=view_for(self.policy, principal),
                registry=self.registry,
                engine=self.engine,
                audit=self.audit,
                limiter=self.limiter,
                mode=mode,
                cancel=CancelSignal(),
            )


def _engine(policy: Policy) -> Engine:
    return Engine(
        policy.engine_url, policy.engine_timeout, pool_size=ENGINE_POOL_SIZE, list_ttl=BROKER_LIST_TTL_SECONDS
    )


def log(text: str) -> None:
    sys.stderr.write(f"rshelld: {text}\n")
    sys.stderr.flush()
