"""Bind a verb's argv to its spec: the only place user words become typed values."""

from __future__ import annotations

from collections.abc import Sequence

from rshell.errors import UsageError
from rshell.spec import ArgKind, Arguments, Option, Positional, VerbSpec
from rshell.units import parse_duration


def bind(verb: str, spec: VerbSpec, argv: Sequence[str]) -> Arguments:
    """Convert argv into Arguments, or raise UsageError naming the word that is wrong."""
    values: dict[str, object] = {}
    positionals: list[str] = []
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--":
            positionals.extend(words)
            break
        if word.startswith("-") and word != "-":
            _bind_option(verb, spec, word, words, values)
        else:
            positionals.append(word)
    _bind_positionals(verb, spec, positionals, values)
    for option in spec.all_options:
        values.setdefault(option.key, _default(option))
    return Arguments(values)


def _default(option: Option) -> object:
    if option.kind is ArgKind.SWITCH:
        return False
    if option.repeatable:
        return ()
    return option.default


def _bind_option(verb: str, spec: VerbSpec, word: str, rest: list[str], values: dict[str, object]) -> None:
    flag, has_inline, inline = word.partition("=")
    option = spec.option(flag)
    if option is None:
        raise UsageError(f"{verb}: unknown option {flag!r} (usage: {spec.usage(verb)})")
    if not option.takes_value:
        if has_inline:
            raise UsageError(f"{verb}: {flag} takes no value")
        values[option.key] = True
        return
    if has_inline:
        raw = inline
    elif rest:
        raw = rest.pop(0)
    else:
        raise UsageError(f"{verb}: {flag} needs a value ({option.metavar})")
    value = convert(verb, option, raw)
    if option.repeatable:
        previous = values.get(option.key, ())
        values[option.key] = (*previous, value) if isinstance(previous, tuple) else (value,)
    elif option.key in values:
        raise UsageError(f"{verb}: {flag} given twice")
    else:
        values[option.key] = value


def _bind_positionals(verb: str, spec: VerbSpec, words: list[str], values: dict[str, object]) -> None:
    repeated = spec.positionals[-1] if spec.positionals and spec.positionals[-1].repeat else None
    if len(words) > len(spec.positionals) and repeated is None:
        extra = words[len(spec.positionals)]
        raise UsageError(f"{verb}: unexpected argument {extra!r} (usage: {spec.usage(verb)})")
    for index, positional in enumerate(spec.positionals):
        if positional is repeated:
            _bind_repeated(verb, spec, positional, words[index:], values)
        elif index < len(words):
            values[positional.key] = convert(verb, positional, words[index])
        elif not positional.optional:
            raise UsageError(f"{verb}: missing {positional.metavar} (usage: {spec.usage(verb)})")
        else:
            values[positional.key] = None


def _bind_repeated(
    verb: str, spec: VerbSpec, positional: Positional, words: list[str], values: dict[str, object]
) -> None:
    """The last positional's words, each converted, in the order given and each once."""
    if not words and not positional.optional:
        raise UsageError(f"{verb}: missing {positional.metavar} (usage: {spec.usage(verb)})")
    if len(words) > positional.max_count:
        raise UsageError(f"{verb}: at most {positional.max_count} {positional.metavar} arguments, not {len(words)}")
    converted = [convert(verb, positional, word) for word in words]
    values[positional.key] = tuple(dict.fromkeys(converted))


def convert(verb: str, param: Positional | Option, raw: str) -> object:
    """Convert one word to the value its kind wants."""
    name = param.metavar
    if len(raw) > param.max_length:
        raise UsageError(f"{verb}: {name} is longer than {param.max_length} characters")
    if param.kind is ArgKind.INTEGER:
        return _integer(verb, param, raw)
    if param.kind is ArgKind.DURATION:
        try:
            return parse_duration(raw)
        except ValueError as error:
            raise UsageError(f"{verb}: {name}: {error}") from None
    if param.choices and raw not in param.choices:
        raise UsageError(f"{verb}: {name} must be one of {', '.join(param.choices)}, not {raw!r}")
    if not raw:
        raise UsageError(f"{verb}: {name} must not be empty")
    return raw


def _integer(verb: str, param: Positional | Option, raw: str) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise UsageError(f"{verb}: {param.metavar} must be a whole number, not {raw!r}")
    value = int(raw)
    if isinstance(param, Option):
        if param.minimum is not None and value < param.minimum:
            raise UsageError(f"{verb}: {param.flag} must be at least {param.minimum}")
        if param.maximum is not None and value > param.maximum:
            raise UsageError(f"{verb}: {param.flag} must be at most {param.maximum}")
    return value
