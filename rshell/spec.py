"""Declarative argument specs: the core derives parsing, help, usage errors and completion from them."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MAX_VALUE_LENGTH = 256
#: the most values one repeatable positional takes (``stats A B ...``)
MAX_REPEAT = 64


class ArgKind(enum.Enum):
    """What kind of thing an argument is: decides conversion, completion and policy checks."""

    CONTAINER = "container"
    #: a Swarm service (rshell.swarm.targets resolves it among the visible ones)
    SERVICE = "service"
    #: a container, else a service; a verb with this kind has a ``--service`` switch that means services only
    WORKLOAD = "container or service"
    VERB = "verb"
    BENCH_TARGET = "bench target"
    MODEL = "model"
    INTEGER = "integer"
    DURATION = "duration"
    TEXT = "text"
    CHOICE = "choice"
    SWITCH = "switch"


@dataclass(frozen=True)
class Positional:
    """A positional argument, bound in order. With ``repeat`` (the last positional only) it takes every
    remaining word, up to ``max_count`` of them, bound as a tuple with duplicates dropped."""

    name: str
    kind: ArgKind
    help: str
    optional: bool = False
    choices: tuple[str, ...] = ()
    max_length: int = MAX_VALUE_LENGTH
    repeat: bool = False
    max_count: int = MAX_REPEAT

    @property
    def key(self) -> str:
        return self.name

    @property
    def metavar(self) -> str:
        return self.name.upper()

    @property
    def shown(self) -> str:
        """How usage and help name it: ``CONTAINER``, or ``CONTAINER ...`` when it repeats."""
        return f"{self.metavar} ..." if self.repeat else self.metavar


@dataclass(frozen=True)
class Option:
    """A ``--flag`` with a value, or a switch (kind SWITCH) without one."""

    flag: str
    kind: ArgKind
    help: str
    default: object = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    repeatable: bool = False
    max_length: int = MAX_VALUE_LENGTH
    #: how usage, help and errors name the value (``--watch SECONDS``); default: the flag's name
    value_name: str = ""

    @property
    def key(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def takes_value(self) -> bool:
        return self.kind is not ArgKind.SWITCH

    @property
    def metavar(self) -> str:
        return self.value_name or self.key.upper()


JSON_OPTION = Option("--json", ArgKind.SWITCH, "print one JSON document (NDJSON when streaming)")
HELP_OPTION = Option("--help", ArgKind.SWITCH, "show this verb's help")
#: ``--watch SECONDS`` of the verbs that sample again (stats, vram)
WATCH_OPTION = Option(
    "--watch", ArgKind.INTEGER, "sample again every SECONDS seconds", minimum=1, maximum=3600, value_name="SECONDS"
)


@dataclass(frozen=True)
class VerbSpec:
    """Positionals and options of one verb; ``--json`` and ``--help`` are added by the core."""

    positionals: tuple[Positional, ...] = ()
    options: tuple[Option, ...] = ()

    def __post_init__(self) -> None:
        if any(positional.repeat for positional in self.positionals[:-1]):
            raise ValueError("only the last positional may repeat")

    @property
    def all_options(self) -> tuple[Option, ...]:
        return (*self.options, JSON_OPTION, HELP_OPTION)

    def option(self, flag: str) -> Option | None:
        return next((option for option in self.all_options if option.flag == flag), None)

    def usage(self, verb: str) -> str:
        parts = [verb]
        for positional in self.positionals:
            parts.append(f"[{positional.shown}]" if positional.optional else positional.shown)
        for option in self.options:
            shown = option.flag if not option.takes_value else f"{option.flag} {option.metavar}"
            parts.append(f"[{shown}{' ...' if option.repeatable else ''}]")
        parts.append("[--json]")
        return " ".join(parts)


@dataclass(frozen=True)
class Arguments:
    """Bound, converted argument values keyed by positional name or option key."""

    values: Mapping[str, object] = field(default_factory=dict)

    def get(self, key: str) -> object:
        return self.values.get(key)

    def text(self, key: str) -> str:
        value = self.values.get(key)
        if not isinstance(value, str):
            raise KeyError(key)
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.values.get(key)
        return value if isinstance(value, str) else None

    def integer(self, key: str) -> int | None:
        value = self.values.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def seconds(self, key: str) -> float | None:
        value = self.values.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def switch(self, key: str) -> bool:
        return self.values.get(key) is True

    def many(self, key: str) -> tuple[object, ...]:
        """The values of a repeatable positional (words, or targets once resolved), in the order given."""
        value = self.values.get(key)
        return tuple(value) if isinstance(value, (list, tuple)) else ()

    def texts(self, key: str) -> Sequence[str]:
        value = self.values.get(key)
        return tuple(value) if isinstance(value, (list, tuple)) else ()

    @property
    def json(self) -> bool:
        return self.switch("json")

    def replace(self, key: str, value: object) -> Arguments:
        return Arguments({**self.values, key: value})
