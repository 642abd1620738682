"""What the broker holds: the policy (reloadable), the verbs, the engine, the audit log, the limits."""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from pathlib import Path

from rshell.audit import AuditLog
from rshell.broker.cancelwatch import CancelWatcher
from rshell.broker.caps import Caps, RateBuckets
from rshell.broker.turns import Turns
from rshell.engine import BROKER_LIST_TTL_SECONDS, Engine
from rshell.engine.pool import StreamSlots
from rshell.errors import PolicyError
from rshell.executor import Session
from rshell.policy.loader import load_policy
from rshell.policy.model import Policy
from rshell.policy.view import Principal, view_for
from rshell.ratelimit import RateLimiter
from rshell.registry import Registry
from rshell.verb import CancelSignal

#: how long a uid's user and groups, read from the user database, are reused (a group change
#: reaches the broker within this time; SIGHUP forgets them at once)
PRINCIPAL_TTL_SECONDS = 5.0


class BrokerState:
    def __init__(self, policy_path: Path, *, send_timeout: float = 60.0, caps: Caps | None = None) -> None:
        self.policy_path = policy_path
        self.send_timeout = send_timeout
        self.caps = caps or Caps()
        #: long engine streams (logs --follow), counted across engine rebuilds on reload
        self.streams = StreamSlots(self.caps.follows, self.caps.follows_per_uid, _log_sparingly)
        self.registry = Registry.discover()
        self._lock = threading.Lock()
        self.policy = self._load()
        self.engine = _engine(self.policy, self.caps.engine_connections, self.streams)
        self.audit = AuditLog(self.policy.audit_log, self.policy.audit_volume)
        self.limiter = RateLimiter(self.policy.state_dir)
        self._principals: dict[int, tuple[float, Principal]] = {}
        self.cancel_watcher = CancelWatcher()
        self.turns = Turns()
        self.mcp_pace = RateBuckets(self.caps.mcp_rate_per_uid, 2 * self.caps.mcp_rate_per_uid)

    def principal(self, uid: int) -> Principal:
        """The user and groups of a uid, from the user database (its primary group and the groups that
        list it; never the peer's egid), cached per uid for PRINCIPAL_TTL_SECONDS."""
        now = time.monotonic()
        with self._lock:
            cached = self._principals.get(uid)
            if cached is not None and now - cached[0] < PRINCIPAL_TTL_SECONDS:
                return cached[1]
        principal = Principal.from_uid(uid)
        with self._lock:
            self._principals[uid] = (now, principal)
        return principal

    def _load(self) -> Policy:
        return load_policy(self.policy_path, self.registry.settings_schemas())

    def reload(self) -> bool:
        """Reopen the audit log (SIGHUP after logrotate), then load the policy again; a policy that
        fails validation leaves the old one in force. Pending audit summaries are written first."""
        self.audit.flush()
        self.audit.reopen()
        try:
            policy = self._load()
        except PolicyError as error:
            log(f"policy reload rejected, the previous policy stays in force: {error.message}")
            return False
        except Exception as error:  # whatever else loading raises, the broker keeps serving the old policy
            reason = f"{type(error).__name__}: {str(error)[:200]}"
            log(f"policy reload rejected, the previous policy stays in force: {reason}")
            return False
        with self._lock:
            if (policy.engine_url, policy.engine_timeout) != (self.policy.engine_url, self.policy.engine_timeout):
                self.engine = _engine(policy, self.caps.engine_connections, self.streams)
            if policy.audit_log != self.policy.audit_log:
                self.audit.close()  # its pending summaries go to the old file
                self.audit = AuditLog(policy.audit_log, policy.audit_volume)
            self.audit.set_volume(policy.audit_volume)
            if policy.state_dir != self.policy.state_dir:
                self.limiter = RateLimiter(policy.state_dir)
            self.policy = policy
            self._principals.clear()
        log(f"policy reloaded from {self.policy_path}")
        return True

    def session_for(self, principal: Principal, mode: str, peer_pid: int | None = None) -> Session:
        """A session for this caller (``peer_pid``: its process, as the kernel reported it, for the
        audit); its ``current()`` is :meth:`renewed`, so each request of a long session (MCP, a
        followed stream) is decided on what is in force when it is made."""
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
                renew=self.renewed,
                peer_pid=peer_pid,
                turns=self.turns,
                pace_messages=self.mcp_pace.take,
            )

    def renewed(self, session: Session) -> Session:
        """``session`` as it is now: this state's policy, engine, audit log and limits (a reload moves
        it to them), and the role of its uid resolved again from the user database (a removed mapping
        or group takes effect at once after SIGHUP, or within PRINCIPAL_TTL_SECONDS). Its mode, cancel
        signal and any other field stay the session's own."""
        principal = self.principal(session.view.principal.uid)
        with self._lock:
            if session.policy is self.policy and session.view.principal is principal:
                return session  # nothing changed: a reload makes a new policy, a re-read a new principal
            return dataclasses.replace(
                session,
                policy=self.policy,
                view=view_for(self.policy, principal),
                engine=self.engine,
                audit=self.audit,
                limiter=self.limiter,
            )


def _engine(policy: Policy, pool_size: int, streams: StreamSlots) -> Engine:
    """The engine every request shares: at most ``pool_size`` connections (rshell.engine.pool)."""
    return Engine(
        policy.engine_url,
        policy.engine_timeout,
        pool_size=pool_size,
        list_ttl=BROKER_LIST_TTL_SECONDS,
        streams=streams,
    )


def _log_sparingly(text: str) -> None:
    from rshell.broker.refusals import log_sparingly  # noqa: PLC0415 - refusals imports this module

    log_sparingly(text)


def log(text: str) -> None:
    sys.stderr.write(f"rshelld: {text}\n")
    sys.stderr.flush()
