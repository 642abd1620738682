"""Approval requests on disk, one JSON file each in ``state_dir/approvals``, changed under one flock."""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rshell.errors import UsageError, VerbFailed
from rshell.statefile import exclusive_lock, replace_atomically

PENDING, APPROVED, DENIED, EXPIRED, RAN = "pending", "approved", "denied", "expired", "ran"
#: states after which nothing more happens to a request
FINAL = frozenset({DENIED, EXPIRED, RAN})
#: an ID an approver may type: a prefix of at least this many hex digits
MIN_PREFIX = 4
_ID = re.compile(r"[0-9a-f]{4,32}")
#: requests kept on disk: finished ones beyond this many are removed, oldest first
MAX_KEPT = 500

Request = dict[str, Any]
#: called with each request a read found past its ttl (so the expiry is audited once)
OnExpired = Callable[[Request], None]


class ApprovalStore:
    """Every change is read-modify-write under an exclusive flock on ``.lock``; each file is written to a
    temporary name, fsynced and renamed, so a crash leaves the old request or the new, never half."""

    def __init__(self, state_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.directory = state_dir / "approvals"
        self._clock = clock

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return exclusive_lock(self.directory / ".lock", "approvals directory")

    def create(self, fields: Request, ttl: float, admit: Callable[[list[Request]], None] | None = None) -> Request:
        """A new pending request; ``admit`` sees every request under the same lock first and may raise (a cap)."""
        now = self._clock()
        request = {"id": secrets.token_hex(8), "created": now, "expires": now + ttl, "state": PENDING, **fields}
        with self.locked():
            if admit is not None:
                admit(self._read_all())
            self._write(request)
            self._prune()
        return request

    def all(self, on_expired: OnExpired) -> list[Request]:
        """Every request (expiring those past their ttl), newest first."""
        with self.locked():
            requests = [self._refreshed(request, on_expired) for request in self._read_all()]
        return sorted(requests, key=lambda request: -float(request.get("created", 0)))

    def peek(self) -> list[Request]:
        """Every request as it is on disk, newest first, changing nothing (each file is replaced whole, so
        no lock is needed to read one); a request past its ttl still says pending until the next change."""
        try:
            if not self.directory.is_dir():
                return []
            requests = self._read_all()
        except OSError as error:
            raise VerbFailed(f"cannot read the approvals directory {self.directory}: {error.strerror}") from None
        return sorted(requests, key=lambda request: -float(request.get("created", 0)))

    def change(self, key: str, on_expired: OnExpired, update: Callable[[Request], Request | None]) -> Request:
        """Apply ``update`` to the request ``key`` names (an ID or a unique prefix) under the lock; it returns
        the changed request to write, or None to leave it. Returns the request as it now is."""
        with self.locked():
            request = self._refreshed(self._find(key), on_expired)
            changed = update(dict(request))
            if changed is not None:
                self._write(changed)
                return changed
            return request

    def _refreshed(self, request: Request, on_expired: OnExpired) -> Request:
        if request.get("state") in (PENDING, APPROVED) and self._clock() >= float(request.get("expires", 0)):
            request = {**request, "state": EXPIRED, "finished": self._clock()}
            self._write(request)
            on_expired(request)
        return request

    def _find(self, key: str) -> Request:
        if not _ID.fullmatch(key):
            raise UsageError(f"{key!r} is not a request ID (at least {MIN_PREFIX} hex digits)")
        matches = [path for path in self._paths() if path.stem.startswith(key)]
        if not matches:
            raise VerbFailed(f"no request {key}")
        if len(matches) > 1:
            raise UsageError(f"{key} names {len(matches)} requests: give more of the ID")
        return self._read(matches[0])

    def _paths(self) -> list[Path]:
        return [path for path in self.directory.glob("*.json") if _ID.fullmatch(path.stem)]

    def _read_all(self) -> list[Request]:
        requests = []
        for path in self._paths():
            with contextlib.suppress(VerbFailed):
                requests.append(self._read(path))
        return requests

    def _read(self, path: Path) -> Request:
        try:
            value = json.loads(path.read_bytes())
        except (OSError, ValueError) as error:
            raise VerbFailed(f"cannot read the request {path.name}: {error}") from None
        if not isinstance(value, dict) or value.get("id") != path.stem:
            raise VerbFailed(f"the request file {path.name} is not a request")
        return value

    def _write(self, request: Request) -> None:
        data = json.dumps(request, ensure_ascii=True, default=str).encode("ascii")
        replace_atomically(self.directory / f"{request['id']}.json", data, "approval request")

    def _prune(self) -> None:
        finished = [request for request in self._read_all() if request.get("state") in FINAL]
        finished.sort(key=lambda request: float(request.get("created", 0)))
        for request in finished[: max(0, len(finished) - MAX_KEPT)]:
            with contextlib.suppress(OSError):
                (self.directory / f"{request['id']}.json").unlink()
