"""The verb contract: metadata as class attributes, a declarative spec, ``run`` yielding events."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rshell.events import Event
from rshell.policy.schema import Field
from rshell.spec import Arguments, VerbSpec

if TYPE_CHECKING:
    from rshell.engine import Engine
    from rshell.policy.view import Decision, PolicyView
    from rshell.registry import Registry


class CancelSignal(threading.Event):
    """A cancel event that also runs callbacks when set, to unblock a verb waiting on I/O."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], object]] = []
        self._lock = threading.Lock()

    def on_cancel(self, callback: Callable[[], object]) -> None:
        with self._lock:
            self._callbacks.append(callback)
        if self.is_set():
            _quietly(callback)

    def set(self) -> None:
        super().set()
        with self._lock:
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _quietly(callback)


def _quietly(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:  # a callback that fails must not stop the others
        return


@dataclass
class Context:
    """What a verb may use: the engine, its policy view and settings, a clock, a cancel signal."""

    engine: Engine
    view: PolicyView
    settings: Mapping[str, object]
    state_dir: Path
    clock: Callable[[], float] = time.monotonic
    cancel: threading.Event = field(default_factory=CancelSignal)
    #: the verbs of this session, for the built-ins that describe them (help, whoami)
    registry: Registry | None = None
    #: a long-running verb (a followed stream) asks this now and then whether the policy in force now
    #: still lets the caller run it on its targets; None: nothing to re-check (filled by the executor)
    still_allowed: Callable[[], Decision] | None = None


class Verb:
    """Base class of every verb, built-in or plugin.

    Subclasses set the class attributes and implement ``run``; they never print, read stdin or
    touch the policy file. ``changes_state`` verbs are audited before they act and rate-limited.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    spec: ClassVar[VerbSpec] = VerbSpec()
    changes_state: ClassVar[bool] = False
    #: the per-verb settings this verb reads from the policy (``roles.R.settings.<name>``)
    settings: ClassVar[tuple[Field, ...]] = ()
    #: an extra paragraph for ``help VERB``
    description: ClassVar[str] = ""
    #: modules the broker's interpreter must import to run this verb (``rshellctl policy check`` and
    #: ``doctor`` import them there), and the package extra that installs them
    requires: ClassVar[tuple[str, ...]] = ()
    requires_extra: ClassVar[str] = ""

    def required_modules(self, settings: Mapping[str, object]) -> tuple[str, ...]:
        """``requires`` for a role with these settings of this verb (a verb may need less for some)."""
        return self.requires

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        raise NotImplementedError

    def streams(self, args: Arguments) -> bool:
        """Whether this invocation streams (NDJSON under --json) rather than one document."""
        return False

    def holds_engine_stream(self, args: Arguments) -> bool:
        """Whether this invocation holds a long engine stream (``logs --follow``): the broker then
        refuses it before any engine call when the caller is at its stream caps."""
        return False
