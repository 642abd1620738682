"""The one sanitiser for untrusted text, applied line by line: no control sequence, nothing invisible.

Which function where (every front end applies the same rule, so a terminal, a ``--json`` reader and
an LLM read the same text):

- ``sanitize(text)``: one string of untrusted origin (container logs, names, labels, health output,
  ollama answers, error messages that quote them) before it is shown: the human renderer, rshellctl,
  the doctor and the CLI's own error lines.
- ``sanitize_lines(lines)``: a batch of lines (a ``LogLines`` event), each as ``sanitize`` would.
- ``sanitize_json(value)``: a whole JSON value, every string in it (keys too) through ``sanitize``:
  the ``--json`` renderer on every document, and the MCP front end on every document and text it sends.

The rule. Text is split on newline first and each line is sanitised alone, so no sequence ever
spans a newline. Then, within the line:

1. Removed: ESC sequences (CSI, OSC, DCS, SOS, PM, APC, two-character escapes) and their 8-bit C1
   forms, terminated or not (an unterminated one runs to the end of its line, never further);
   every other C0 control but tab, DEL and every C1 control.
2. Made visible as the text ``\\u200b`` (``\\U000e0041`` beyond the BMP), so a reader sees that
   something was there: every format character (Cf: bidi controls U+061C, U+200E, U+200F,
   U+202A-U+202E, U+2066-U+2069; zero-width U+200B-U+200D, U+2060-U+2064, U+FEFF, U+180E; tag
   characters U+E0000-U+E007F; soft hyphen), line and paragraph separators (Zl, Zp), surrogates
   (Cs), private use (Co), code points this Python's Unicode does not know (Cn), and the
   Default_Ignorable_Code_Point letters and marks that print as nothing (Hangul fillers, the
   combining grapheme joiner, variation selectors but the emoji ones U+FE0E and U+FE0F). Unicode
   TR9 (the bidi algorithm: its explicit formatting characters reorder what a reader sees), TR36
   and UTS #39 (invisible and default-ignorable characters for spoofing; tag characters carry
   hidden text to an LLM) name these. Spaces (Zs), tab and everything printable stay as they are.
"""

from __future__ import annotations

#: typing, re and unicodedata are not imported on the client's start-up path; mypy treats this as True
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable
    from typing import Any

# CSI (ESC [ params final), OSC/DCS/SOS/PM/APC strings up to BEL or ST, two-character escapes; then
# the 8-bit C1 forms of the same; then every other control. Each run stops at a newline, too:
# lines are sanitised one by one, and no pattern may ever reach past one.
_REMOVE = r"""
    \x1b\[[0-?]*[ -/]*[@-~]?                                   # CSI
  | \x1b[\]PX^_][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?        # OSC, DCS, SOS, PM, APC
  | \x1b[ -/]*[0-~]?                                           # other escapes (charset, keypad, ...)
  | \x9b[0-?]*[ -/]*[@-~]?                                     # 8-bit CSI
  | [\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c\n]*(?:\x07|\x9c)?     # 8-bit string controls
  | [\x00-\x08\x0b-\x1f\x7f-\x9f]                              # any other C0 (but tab, newline), DEL, C1
    """
#: printable (``str.isprintable``) yet drawn as nothing: Default_Ignorable_Code_Point characters of
#: categories Lo and Mn (DerivedCoreProperties.txt); the other default-ignorables are Cf or Cn
_INVISIBLE_PRINTABLE = (
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u3164\ufe00-\ufe0d\uffa0\U000e0100-\U000e01ef]"
)
#: how many code points the shown-as table remembers (an attacker may print every one of them)
_TABLE_LIMIT = 4096

#: compiled on first use: most text is printable ASCII and never needs them
_compiled: list[re.Pattern[str]] = []


def sanitize(text: str) -> str:
    """The text with controls and escape sequences removed and invisible characters made visible."""
    if text.isascii() and text.isprintable():
        return text
    if "\n" not in text:
        return _sanitize_line(text)
    return "\n".join(sanitize_lines(text.split("\n")))


def sanitize_lines(lines: Iterable[str]) -> list[str]:
    """Each line sanitised as ``sanitize`` would (a newline inside one still ends every sequence)."""
    return [line if line.isascii() and line.isprintable() else _sanitize_line(line) for line in lines]


def sanitize_json(value: Any) -> Any:
    """A JSON value with every string in it, keys included, sanitised; other values unchanged."""
    if isinstance(value, str):
        return sanitize(value)
    if isinstance(value, dict):
        return {sanitize(key) if isinstance(key, str) else key: sanitize_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize_json(item) for item in value]
    return value


def _sanitize_line(line: str) -> str:
    """One line: controls and sequences removed (none reaches past a newline), then invisibles shown."""
    if not line.replace("\t", " ").isprintable():  # a tab alone (a stack trace) needs no regex
        line = _patterns()[0].sub("", line)
    if line.isascii() or (line.isprintable() and _patterns()[1].search(line) is None):
        return line
    return line.translate(_SHOWN_AS)


def _patterns() -> list[re.Pattern[str]]:
    if not _compiled:
        import re  # noqa: PLC0415 - most text is printable and never needs it

        _compiled.extend((re.compile(_REMOVE, re.VERBOSE), re.compile(_INVISIBLE_PRINTABLE)))
    return _compiled


class _ShownAs(dict[int, str]):
    """Code point to how it is shown (itself, or its escape), decided on first sight for ``str.translate``."""

    def __missing__(self, code: int) -> str:
        import unicodedata  # noqa: PLC0415 - only text with non-printable characters gets here

        char = chr(code)
        hidden = not char.isprintable() and char not in "\t\n" and unicodedata.category(char) != "Zs"
        if hidden or _patterns()[1].fullmatch(char):
            shown = f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
        else:
            shown = char
        if len(self) < _TABLE_LIMIT:
            self[code] = shown
        return shown


_SHOWN_AS = _ShownAs()
