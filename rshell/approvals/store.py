"""Approval requests on disk, one JSON file each in ``state_dir/approvals``, changed under one flock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rshell.errors import UsageError, VerbFailed

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

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise VerbFailed(f"cannot use the approvals directory {self.directory}: {error.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def create(self, fields: Request, ttl: float) -> Request:
        now = self._clock()
        request = {"id": secrets.token_hex(8), "created": now, "expires": now + ttl, "state": PENDING, **fields}
        with self.locked():
            self._write(request)
            self._prune()
        return request

    def all(self, on_expired: OnExpired) -> list[Request]:
        """Every request (expiring those past their ttl), newest first."""
        with self.locked():
            requests = [self._refreshed(request, on_expired) for request in self._read_all()]
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
        path = self.directory / f"{request['id']}.json"
        temporary = path.with_suffix(".tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(json.dumps(request, ensure_ascii=True, default=str).encode("ascii"))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
            directory = os.open(self.directory, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as error:
            raise VerbFailed(f"cannot write the request {path}: {error.strerror}") from None

    def _prune(self) -> None:
        finished = [request for request in self._read_all() if request.get("state") in FINAL]
        finished.sort(key=lambda request: float(request.get("created", 0)))
        for request in finished[: max(0, len(finished) - MAX_KEPT)]:
            with contextlib.suppress(OSError):
                (self.directory / f"{request['id']}.json").unlink()
