"""The lexer's verdict against shlex's own tokens, for generated lines of quotes, backslashes and operators.

``shlex`` with ``punctuation_chars`` is the reference for "which operator characters are outside
quotes": it splits ``();<>|&`` into tokens of their own only where a shell would act on them. The
lexer may refuse more (``$`` and backticks, which shlex does not know), never less.
"""

from __future__ import annotations

import shlex

from hypothesis import given, settings
from hypothesis import strategies as st

from rshell.errors import UsageError
from rshell.lexer import split_line

#: letters, spaces, both quotes, backslash and every character of a shell operator
ALPHABET = "ab  '\"\\;|&<>()$`"
PUNCTUATION = "();<>|&"

#: single characters, and the pairs whose meaning depends on the quote model
PIECES = [*ALPHABET, '\\"', "\\\\", "\\'", "&&", "||", ">>", "$(", '"\\""']

lines = st.lists(st.sampled_from(PIECES), min_size=1, max_size=14).map(lambda pieces: "logs " + "".join(pieces))


def shlex_tokens(line: str) -> list[str]:
    """shlex's punctuation-aware tokens (split at whitespace and at unquoted operators), as sh reads them."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=PUNCTUATION)
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def has_bare_operator(line: str) -> bool | None:
    """Whether shlex finds an operator outside quotes; None when shlex cannot split the line at all.

    A quoted ``";"`` and a bare ``;`` are the same token once shlex drops the quotes, so each
    operator character is first followed by an ``x`` (which is literal everywhere and changes no
    quoting): then a quoted or escaped one sits in a word with that ``x``, and only a bare one can
    make a token of operator characters alone.
    """
    marked = "".join(char + "x" if char in PUNCTUATION else char for char in line)
    try:
        tokens = shlex_tokens(marked)
    except ValueError:
        return None
    return any(token and set(token) <= set(PUNCTUATION) for token in tokens)


def lexer_verdict(line: str) -> tuple[str, ...] | None:
    """The words the lexer accepts, or None when it refuses (always as a usage error, exit 2)."""
    try:
        request = split_line(line)
    except UsageError as error:
        status: int = error.status
    else:
        assert request is not None
        return (request.verb, *request.argv)
    assert status == 2
    return None


@settings(max_examples=300, deadline=None)
@given(lines)
def test_accepted_lines_have_no_operator_outside_quotes_and_split_as_shlex_does(line: str) -> None:
    words = lexer_verdict(line)
    if words is None:
        return
    assert tuple(shlex.split(line, comments=False, posix=True)) == words
    assert has_bare_operator(line) is False


@settings(max_examples=300, deadline=None)
@given(lines)
def test_every_operator_that_shlex_sees_outside_quotes_is_refused(line: str) -> None:
    if has_bare_operator(line):
        assert lexer_verdict(line) is None


@settings(max_examples=300, deadline=None)
@given(lines)
def test_lines_with_nothing_a_shell_acts_on_are_accepted(line: str) -> None:
    """The lexer refuses only for a reason: a line shlex splits, with no bare operator, no ``$`` or backtick."""
    if "$" in line or "`" in line or has_bare_operator(line) is not False:
        return
    assert lexer_verdict(line) == tuple(shlex.split(line, comments=False, posix=True))


def test_the_marking_tells_quoted_from_bare_operators() -> None:
    """The reference itself: quoted and escaped operators are words, bare ones are tokens."""
    assert has_bare_operator('logs a "\\"" && reboot') is True
    assert has_bare_operator("logs a;b") is True
    assert has_bare_operator("logs ;;") is True
    assert has_bare_operator("logs ';' \";\" \\;") is False
    assert has_bare_operator('logs "\\";"') is False
    assert has_bare_operator('logs "a') is None
