"""A small schema language for the policy file, validated on YAML nodes so errors carry lines."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import yaml

from rshell.units import parse_duration, parse_size

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
LABEL_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,254}")


class Kind(enum.Enum):
    INTEGER = "a whole number"
    DURATION = "a duration with a unit (30s, 10m, 2h)"
    SIZE = "a size with a unit (512MiB, 2GiB)"
    STRING = "a string"
    NAME = "a name (letters, digits, _ . @ -)"
    BOOLEAN = "true or false"
    URL = "a URL (http://, https:// or unix://)"
    PATH = "an absolute path"
    LIST = "a list"
    OBJECT = "a mapping"
    MAP = "a mapping of names"


@dataclass(frozen=True)
class Field:
    """One key of a mapping: its kind, default, bounds and (for containers) what it holds."""

    name: str
    kind: Kind
    help: str = ""
    default: Any = None
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    items: Field | None = None
    fields: tuple[Field, ...] = ()
    max_length: int = 4096
    choices: tuple[str, ...] = ()
    key_pattern: re.Pattern[str] = NAME_PATTERN


@dataclass
class Problems:
    """Every error found, each with its line, so ``policy check`` can list them all."""

    source: str
    messages: list[str] = field(default_factory=list)

    def add(self, node: yaml.Node, message: str) -> None:
        self.messages.append(f"{self.source}:{node.start_mark.line + 1}: {message}")


_SCALAR_TAGS = {
    "tag:yaml.org,2002:str": str,
    "tag:yaml.org,2002:int": int,
    "tag:yaml.org,2002:bool": bool,
    "tag:yaml.org,2002:float": float,
    "tag:yaml.org,2002:null": type(None),
}


_CONSTRUCTOR = yaml.SafeLoader("")


def scalar_value(node: yaml.Node) -> object:
    """The Python value of a scalar node, with YAML 1.1 resolution as PyYAML's safe loader does."""
    return _CONSTRUCTOR.construct_object(node, deep=True)


def validate(node: yaml.Node, spec: Field, path: str, problems: Problems) -> Any:
    """Check one node against its field and return the converted value (None where invalid)."""
    checker = _CHECKERS[spec.kind]
    return checker(node, spec, path, problems)


def _scalar(node: yaml.Node, spec: Field, path: str, problems: Problems) -> object:
    if not isinstance(node, yaml.ScalarNode) or node.tag not in _SCALAR_TAGS:
        problems.add(node, f"{path} must be {spec.kind.value}")
        return None
    return scalar_value(node)


def _check_integer(node: yaml.Node, spec: Field, path: str, problems: Problems) -> int | None:
    value = _scalar(node, spec, path, problems)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        problems.add(node, f"{path} must be {spec.kind.value}, not {value!r}")
        return None
    if spec.minimum is not None and value < spec.minimum:
        problems.add(node, f"{path} must be at least {spec.minimum}")
    if spec.maximum is not None and value > spec.maximum:
        problems.add(node, f"{path} must be at most {spec.maximum}")
    return value


def _check_boolean(node: yaml.Node, spec: Field, path: str, problems: Problems) -> bool | None:
    value = _scalar(node, spec, path, problems)
    if value is not None and not isinstance(value, bool):
        problems.add(node, f"{path} must be true or false, not {value!r}")
        return None
    return value if isinstance(value, bool) else None


def _check_string(node: yaml.Node, spec: Field, path: str, problems: Problems) -> Any:
    value = _scalar(node, spec, path, problems)
    if value is None:
        return None
    if not isinstance(value, str) or node.tag != "tag:yaml.org,2002:str":
        problems.add(node, f"{path} must be {spec.kind.value} (quote it), not {value!r}")
        return None
    if len(value) > spec.max_length:
        problems.add(node, f"{path} is longer than {spec.max_length} characters")
        return None
    if any(ord(char) < 32 or 127 <= ord(char) < 160 for char in value):
        problems.add(node, f"{path} must not contain control characters")
        return None
    if spec.choices and value not in spec.choices:
        problems.add(node, f"{path} must be one of {', '.join(spec.choices)}, not {value!r}")
        return None
    return _refine(node, spec, path, problems, value)


def _refine(node: yaml.Node, spec: Field, path: str, problems: Problems, value: str) -> Any:
    converters: dict[Kind, Callable[[str], Any]] = {
        Kind.DURATION: parse_duration,
        Kind.SIZE: parse_size,
        Kind.NAME: _name,
        Kind.URL: _url,
        Kind.PATH: _path,
    }
    converter = converters.get(spec.kind)
    if converter is None:
        return value
    try:
        converted: Any = converter(value)
        return converted
    except ValueError as error:
        problems.add(node, f"{path}: {error}")
        return None


def _name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} is not a plain ASCII name (letters, digits, _ . @ -)")
    return value


def _url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https", "unix") or not (parsed.netloc or parsed.path):
        raise ValueError(f"{value!r} is not an http://, https:// or unix:// URL")
    return value


def _path(value: str) -> str:
    if not value.startswith("/") or "\x00" in value:
        raise ValueError(f"{value!r} is not an absolute path")
    return value


def _check_list(node: yaml.Node, spec: Field, path: str, problems: Problems) -> list[Any] | None:
    if not isinstance(node, yaml.SequenceNode):
        problems.add(node, f"{path} must be a list")
        return None
    assert spec.items is not None
    return [validate(item, spec.items, f"{path}[{index}]", problems) for index, item in enumerate(node.value)]


def _pairs(node: yaml.Node, path: str, problems: Problems) -> list[tuple[str, yaml.Node]] | None:
    if not isinstance(node, yaml.MappingNode):
        problems.add(node, f"{path} must be a mapping")
        return None
    pairs: list[tuple[str, yaml.Node]] = []
    seen: set[str] = set()
    for key_node, value_node in node.value:
        plain = isinstance(key_node, yaml.ScalarNode) and key_node.tag in _SCALAR_TAGS  # no merge keys, no !tags
        key = scalar_value(key_node) if plain else None
        if not isinstance(key, str):
            problems.add(key_node, f"{path}: keys must be strings")
            continue
        if key in seen:
            problems.add(key_node, f"{path}.{key} is given twice")
            continue
        seen.add(key)
        pairs.append((key, value_node))
    return pairs


def _check_object(node: yaml.Node, spec: Field, path: str, problems: Problems) -> dict[str, Any] | None:
    pairs = _pairs(node, path, problems)
    if pairs is None:
        return None
    known = {child.name: child for child in spec.fields}
    result: dict[str, Any] = {}
    for key, value_node in pairs:
        child = known.get(key)
        if child is None:
            problems.add(value_node, f"{path}: unknown key {key!r} (known: {', '.join(known) or 'none'})")
            continue
        result[key] = validate(value_node, child, f"{path}.{key}", problems)
    for child in spec.fields:
        if child.name not in result:
            if child.required:
                problems.add(node, f"{path}: missing required key {child.name!r}")
            result[child.name] = child.default
    return result


def _check_map(node: yaml.Node, spec: Field, path: str, problems: Problems) -> dict[str, Any] | None:
    pairs = _pairs(node, path, problems)
    if pairs is None:
        return None
    assert spec.items is not None
    result: dict[str, Any] = {}
    for key, value_node in pairs:
        if not spec.key_pattern.fullmatch(key):
            problems.add(value_node, f"{path}: {key!r} is not a plain ASCII name")
            continue
        result[key] = validate(value_node, spec.items, f"{path}.{key}", problems)
    return result


_CHECKERS: dict[Kind, Callable[[yaml.Node, Field, str, Problems], Any]] = {
    Kind.INTEGER: _check_integer,
    Kind.BOOLEAN: _check_boolean,
    Kind.STRING: _check_string,
    Kind.NAME: _check_string,
    Kind.DURATION: _check_string,
    Kind.SIZE: _check_string,
    Kind.URL: _check_string,
    Kind.PATH: _check_string,
    Kind.LIST: _check_list,
    Kind.OBJECT: _check_object,
    Kind.MAP: _check_map,
}
