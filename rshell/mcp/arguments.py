"""A tool call's arguments back to argv words, so the call takes the same path as a typed line.

The words go through ``bind``, the decision, target resolution, limits and the audit log like any
other request; here we only check JSON types and apply the lexer's rules for characters and size.
Positionals follow ``--`` so a value starting with ``-`` can never be read as an option.
"""

from __future__ import annotations

from collections.abc import Mapping

from rshell.approvals.gate import REASON_FLAG
from rshell.errors import UsageError
from rshell.lexer import check_line
from rshell.spec import ArgKind, Option, Positional
from rshell.verb import Verb

#: the MCP argument that is ``--reason`` for a verb under approval (rshell/mcp/schema.py offers it)
REASON_KEY = "reason"


def argv_for(verb: Verb, arguments: Mapping[str, object] | None, *, reason: bool = False) -> tuple[str, ...]:
    """The argv a user would have typed for these arguments; UsageError for anything malformed. With
    ``reason`` (the verb is under approval for this caller) the ``reason`` argument is ``--reason TEXT``."""
    given = dict(arguments or {})
    known = {positional.key for positional in verb.spec.positionals} | {option.key for option in verb.spec.options}
    why = given.pop(REASON_KEY, None) if reason else None
    if reason:
        known.add(REASON_KEY)
    unknown = sorted(set(given) - known)
    if unknown:
        raise UsageError(f"{verb.name}: unknown argument {unknown[0]!r} (arguments: {', '.join(sorted(known))})")
    words: list[str] = []
    for option in verb.spec.options:
        if given.get(option.key) is not None:
            words += _option_words(verb.name, option, given[option.key])
    if why is not None:
        if not isinstance(why, str):
            raise UsageError(f"{verb.name}: {REASON_KEY} must be a string")
        words += [REASON_FLAG, why]
    positionals = _positional_words(verb, given)
    if positionals:
        words += ["--", *positionals]
    check_line(" ".join([verb.name, *words]))
    return tuple(words)


def _positional_words(verb: Verb, given: Mapping[str, object]) -> list[str]:
    words: list[str] = []
    missing: Positional | None = None
    for positional in verb.spec.positionals:
        value = given.get(positional.key)
        if value is None or value == []:
            missing = missing or positional
            continue
        if missing is not None:
            raise UsageError(f"{verb.name}: {positional.key} needs {missing.key} as well")
        words += _values_words(verb.name, positional, value)
    return words


def _values_words(verb: str, positional: Positional, value: object) -> list[str]:
    """One positional's words: a repeatable one's list, one word per item (``bind`` caps how many and
    drops repeats), else its one value."""
    if not positional.repeat:
        return [_word(verb, positional, value)]
    if not isinstance(value, list):
        raise UsageError(f"{verb}: {positional.key} must be a list")
    return [_word(verb, positional, item) for item in value]


def _option_words(verb: str, option: Option, value: object) -> list[str]:
    if option.kind is ArgKind.SWITCH:
        if not isinstance(value, bool):
            raise UsageError(f"{verb}: {option.key} must be true or false")
        return [option.flag] if value else []
    if option.repeatable:
        if not isinstance(value, list):
            raise UsageError(f"{verb}: {option.key} must be a list")
        return [word for item in value for word in (option.flag, _word(verb, option, item))]
    return [option.flag, _word(verb, option, value)]


def _word(verb: str, param: Positional | Option, value: object) -> str:
    """One value as the word a user would type; JSON types must match the schema's."""
    if param.kind is ArgKind.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{verb}: {param.key} must be a whole number")
        return str(value)
    if not isinstance(value, str):
        raise UsageError(f"{verb}: {param.key} must be a string")
    return value
