"""Text to words: shlex splitting with no expansion, after refusing anything a shell would act on."""

from __future__ import annotations

import shlex
import unicodedata
from dataclasses import dataclass

from rshell.errors import UsageError

#: the longest line the shell reads, in bytes of UTF-8 (documented in README)
MAX_LINE_BYTES = 4096

NOT_A_SHELL = "rshell runs one verb per line, not a shell"

#: constructs refused outside single quotes, checked longest first
_OPERATORS = ("$(", "${", "&&", "||", ">>", "<<", ";", "|", "&", ">", "<", "(", ")", "`", "$")
_SQUOTE, _DQUOTE, _PLAIN = "'", '"', ""


@dataclass(frozen=True)
class Request:
    """One line, split: the verb and its words."""

    verb: str
    argv: tuple[str, ...]

    @property
    def wants_json(self) -> bool:
        return "--json" in self.argv


def check_line(line: str) -> None:
    """Refuse lines that are too long, not text, or carry control characters."""
    if len(line.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES:
        raise UsageError(f"the line is longer than {MAX_LINE_BYTES} bytes")
    if any("\ud800" <= char <= "\udfff" for char in line):
        raise UsageError("the line is not valid UTF-8")
    for char in line:
        if char == "\n":
            raise UsageError(f"newlines are not allowed: {NOT_A_SHELL}")
        if char != "\t" and unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co"):
            raise UsageError(f"control character U+{ord(char):04X} is not allowed in a line")


def find_shell_syntax(line: str) -> str | None:
    """The first shell construct outside quotes (``$`` and backticks inside double quotes too).

    The quote model is POSIX sh's, as ``shlex`` splits: single quotes are literal up to the next
    single quote; outside quotes a backslash makes the next character literal; inside double quotes
    a backslash makes a following ``"`` or backslash literal (so ``"\\""`` is one quoted ``"``), and
    a ``$`` or backtick is refused even after a backslash.
    """
    state, index = _PLAIN, 0
    while index < len(line):
        char = line[index]
        if state == _SQUOTE:
            state = _PLAIN if char == "'" else state
        elif char == "\\" and (state == _PLAIN or line[index + 1 : index + 2] in ('"', "\\")):
            index += 1
        elif char in "'\"" and state == _PLAIN:
            state = char
        elif char == '"' and state == _DQUOTE:
            state = _PLAIN
        else:
            found = _operator_at(line, index, inside_double_quotes=state == _DQUOTE)
            if found:
                return found
        index += 1
    return None


def _operator_at(line: str, index: int, *, inside_double_quotes: bool) -> str | None:
    for operator in _OPERATORS:
        if line.startswith(operator, index):
            if inside_double_quotes and operator[0] not in "$`":
                return None
            return operator
    return None


def split_line(line: str) -> Request | None:
    """Split a line into a Request; None for a blank line. Raises UsageError for anything refused."""
    check_line(line)
    operator = find_shell_syntax(line)
    if operator is not None:
        raise UsageError(f"{operator!r} is shell syntax: {NOT_A_SHELL}")
    try:
        words = shlex.split(line, comments=False, posix=True)
    except ValueError as error:
        raise UsageError(f"cannot split the line: {error}") from None
    if not words:
        return None
    return Request(words[0], tuple(words[1:]))
